"""Nothing lost, nothing half-written: atomic outputs, full disks, races, interrupts, and
commands that leave no global state behind."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geotile.errors import InputError, Interrupted, OutputExistsError
from geotile.output_files import atomic_output, verify_geotiff
from geotile.raster import output_profile
from geotile.resume import completed_as

from .conftest import UTM_CRS, UTM_ORIGIN
from .onnx_models import pointwise_model


def _geotiff(path: Path, size: int = 600) -> Path:
    profile = output_profile(None, count=1, dtype="uint8", width=size, height=size,
                             crs=UTM_CRS, transform=rasterio.transform.from_origin(*UTM_ORIGIN,
                                                                                   0.5, 0.5))
    noise = np.random.default_rng(0).integers(0, 255, (1, size, size), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(noise)
    return path


def test_verify_geotiff_accepts_complete_and_refuses_truncated(tmp_path):
    good = _geotiff(tmp_path / "good.tif")
    verify_geotiff(good)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"final\.tif: the GeoTIFF was not written completely"):
        verify_geotiff(cut, tmp_path / "final.tif")


def test_incomplete_geotiff_is_never_moved_into_place(tmp_path):
    final = tmp_path / "out.tif"
    with pytest.raises(InputError, match="not written completely"), \
            atomic_output(final) as tmp:
        _geotiff(tmp)
        os.truncate(tmp, tmp.stat().st_size - 1000)  # the disk filled up at the end
    assert list(tmp_path.iterdir()) == []


def test_output_that_appears_meanwhile_is_not_clobbered(tmp_path):
    final = tmp_path / "out.txt"
    with pytest.raises(OutputExistsError, match="appeared while geotile was writing"), \
            atomic_output(final) as tmp:
        tmp.write_text("ours")
        final.write_text("someone else's")  # another process, after our up-front check
    assert final.read_text() == "someone else's"
    assert list(tmp_path.iterdir()) == [final]


@pytest.mark.parametrize("theirs", ["run-a", "run-b"])
def test_an_output_that_appears_meanwhile_with_this_runs_completion_tag_is_kept(tmp_path,
                                                                                theirs):
    """Another run of the same command (its completion tag this run's) finished the output
    first: it is this output, kept, and this copy goes; another tag is still refused."""
    final = tmp_path / "out.tif"
    mine = atomic_output(final, written_meanwhile=completed_as("run-a"))
    with pytest.raises(OutputExistsError, match="appeared") if theirs != "run-a" \
            else contextlib.nullcontext(), mine as tmp:
        _geotiff(tmp)
        _geotiff(final, size=64)
        with rasterio.open(final, "r+") as dst:
            dst.update_tags(GEOTILE_COMPLETE=theirs)
    with rasterio.open(final) as src:
        assert (src.width, src.tags()["GEOTILE_COMPLETE"]) == (64, theirs)
    assert list(tmp_path.iterdir()) == [final]


def test_overwrite_replaces_an_output_that_appeared(tmp_path):
    final = tmp_path / "out.txt"
    with atomic_output(final, overwrite=True) as tmp:
        tmp.write_text("ours")
        final.write_text("theirs")
    assert final.read_text() == "ours"


def test_interrupt_is_one_line_naming_the_output(tmp_path):
    final = tmp_path / "out.txt"
    with pytest.raises(Interrupted, match=r"out\.txt: interrupted"), \
            atomic_output(final) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []



def test_ctrl_c_just_after_the_lock_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    """A Ctrl-C (or SIGTERM) arriving just after the temporary's lock file was made, before
    the write began, left .<stem>.<hex>.tmp.txt.lock in the output folder (seen in CI under
    load: test_sigterm_ends_a_command_as_ctrl_c_does)."""
    import signal

    import geotile.output_files as output_files

    held = output_files.held_temporary

    def then_ctrl_c(final):
        made = held(final)
        signal.raise_signal(signal.SIGINT)  # Python's handler raises at the next bytecode
        return made

    monkeypatch.setattr(output_files, "held_temporary", then_ctrl_c)
    with pytest.raises(Interrupted, match=r"out\.txt: interrupted"), \
            atomic_output(tmp_path / "out.txt") as tmp:
        tmp.write_text("never")
    assert list(tmp_path.iterdir()) == []

def test_ctrl_c_while_the_writable_probe_exists_leaves_nothing(tmp_path, monkeypatch):
    """SIGTERM of `vectorize -o v.geojson` (1.5 s in) landed between the making and the
    removal of check_writable's probe file: it said 'the temporary files were removed' and
    left an empty .v.<hex>.tmp.geojson, which no later run removed. The probe is made and
    removed with signals held."""
    import signal

    from geotile.output_files import check_writable

    close = os.close
    fired = []

    def then_ctrl_c(handle):
        close(handle)
        if not fired and any(p.name.endswith(".tmp.geojson") for p in tmp_path.iterdir()):
            fired.append(1)
            signal.raise_signal(signal.SIGINT)  # Python's handler raises at the next bytecode

    monkeypatch.setattr(os, "close", then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        check_writable(tmp_path / "v.geojson")
    monkeypatch.undo()
    assert fired and list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _tiny_disk(tmp_path: Path, size: str = "160k"):
    """A tmpfs of ``size`` mounted under tmp_path (root only; skipped elsewhere)."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _noise_image(make_raster, size: int = 700):
    rng = np.random.default_rng(1)
    return make_raster("noise.tif", rng.integers(0, 255, (3, size, size), dtype=np.uint8))


def test_full_disk_fails_predict_and_leaves_nothing(run_cli, make_raster, tmp_path):
    image = _noise_image(make_raster)
    model = pointwise_model(tmp_path / "m.onnx")
    with _tiny_disk(tmp_path) as disk:
        result = run_cli("predict", model, image, "-o", disk / "p.tif", "--tile-size", "64",
                         "--dtype", "float32")
        assert result.exit_code == 1, result.output
        assert "p.tif" in result.stderr and "Traceback" not in result.stderr
        assert list(disk.iterdir()) == []


def test_full_disk_fails_a_cog_naming_the_output(run_cli, make_raster, tmp_path):
    """--cog: GDAL's COG copy failing on its temporary files is said for the output, never
    as the temporary's name in a raw GDAL line."""
    image = _noise_image(make_raster)
    model = pointwise_model(tmp_path / "m.onnx")
    with _tiny_disk(tmp_path) as disk:
        result = run_cli("predict", model, image, "-o", disk / "p.tif", "--tile-size", "64",
                         "--dtype", "float32", "--cog")
        assert result.exit_code == 1, result.output
        error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(error) == 1 and "p.tif:" in error[0] and ".tmp" not in error[0], error
        assert "Free space" in error[0] and "Traceback" not in result.stderr
        assert list(disk.iterdir()) == []


def test_full_disk_fails_make_masks_and_leaves_nothing(run_cli, make_raster, tmp_path):
    image = _noise_image(make_raster, 1500)
    # small squares at random places: a mask that compresses badly
    features = []
    x0, y0 = UTM_ORIGIN
    for dx, dy in np.random.default_rng(2).uniform(0, 740, (8000, 2)):
        x, y = x0 + dx, y0 - dy
        ring = [[x, y], [x + 1.5, y], [x + 1.5, y - 1.5], [x, y - 1.5], [x, y]]
        features.append({"type": "Feature", "properties": {},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                  "crs": {"type": "name", "properties": {"name": UTM_CRS}}}))
    with _tiny_disk(tmp_path, "24k") as disk:
        result = run_cli("make-masks", labels, image, "-o", disk / "mask.tif")
        assert result.exit_code == 1, result.output
        assert "mask.tif" in result.stderr and "Traceback" not in result.stderr
        assert list(disk.iterdir()) == []


def _run_geotile(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geotile", *map(str, args)],
                          capture_output=True, text=True)


def test_unknown_crs_is_one_line_without_proj_noise(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    labels = tmp_path / "labels.geojson"
    x, y = UTM_ORIGIN
    ring = [[x, y], [x + 5, y], [x + 5, y - 5], [x, y]]
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    result = _run_geotile("make-masks", labels, image, "-o", tmp_path / "m.tif",
                          "--labels-crs", "EPSG:999999")
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ERROR 1" not in result.stderr and "EPSG:999999" in lines[0]


def test_verbose_and_quiet_after_the_command(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("a.tif", np.zeros((3, 40, 40), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "v.tif", "--tile-size", "32",
                     "-v")
    assert result.exit_code == 0, result.output
    assert "m.onnx: " in result.stderr and "NCHW" in result.stderr
    result = run_cli("predict", "-q", model, image, "-o", tmp_path / "q.tif",
                     "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    plain = make_raster("plain.tif", np.zeros((3, 40, 40), np.uint8), crs=None)
    result = run_cli("predict", model, plain, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert "Warning: plain.tif" in result.stderr  # no CRS: said without -q
    result = run_cli("predict", "-q", model, plain, "-o", tmp_path / "pq.tif", "--tile-size",
                     "32")
    assert result.exit_code == 0 and result.stderr == "", result.stderr  # -q: errors only


def test_a_command_leaves_no_global_state(run_cli, make_raster, tmp_path):
    logger = logging.getLogger("geotile")
    before = (warnings.showwarning, list(logger.handlers), logger.level,
              os.environ.get("GDAL_CACHEMAX"), list(warnings.filters))
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("a.tif", np.zeros((3, 40, 40), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    after = (warnings.showwarning, list(logger.handlers), logger.level,
             os.environ.get("GDAL_CACHEMAX"), list(warnings.filters))
    assert after == before


@pytest.mark.parametrize("report", ["r.png", "r.html"])
def test_full_disk_fails_evaluate_report_naming_the_file(run_cli, make_raster, tmp_path, report):
    import geopandas as gpd
    from shapely.geometry import box

    image = _noise_image(make_raster, 400)
    x0, y0 = UTM_ORIGIN
    frame = gpd.GeoDataFrame(geometry=[box(x0 + 10 * i, y0 - 20, x0 + 10 * i + 6, y0 - 14)
                                       for i in range(15)], crs=UTM_CRS)
    frame.to_file(tmp_path / "truth.geojson")
    with _tiny_disk(tmp_path, "16k") as disk:
        result = run_cli("evaluate", tmp_path / "truth.geojson", tmp_path / "truth.geojson",
                         "--report", disk / report, "--image", image)
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(disk / report) in lines[0] and "space" in lines[0]
        assert list(disk.iterdir()) == []


@pytest.mark.parametrize("command", ["make-masks", "predict"])
def test_several_images_into_a_tif_name_is_refused(run_cli, make_raster, tmp_path, command):
    """``-o masks.tif`` with several images: refused in one line, not a folder named
    masks.tif; a folder name (existing or not) receives one file per image."""
    from .conftest import assert_one_line_error

    one = make_raster("one.tif", np.zeros((1, 16, 16), np.uint8))
    two = make_raster("two.tif", np.zeros((1, 16, 16), np.uint8))
    first = tmp_path / "labels.geojson" if command == "make-masks" else pointwise_model(
        tmp_path / "m.onnx", channels=1)
    first.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
            [UTM_ORIGIN[0], UTM_ORIGIN[1]], [UTM_ORIGIN[0] + 2, UTM_ORIGIN[1]],
            [UTM_ORIGIN[0] + 2, UTM_ORIGIN[1] - 2], [UTM_ORIGIN[0], UTM_ORIGIN[1]]]]}}],
        "crs": {"type": "name", "properties": {"name": UTM_CRS}}})) \
        if command == "make-masks" else None
    extra = ["--tile-size", "16"] if command == "predict" else []
    assert_one_line_error(run_cli(command, first, one, two, "-o", tmp_path / "out.tif", *extra),
                          "out.tif", "2 inputs need a folder", "out/")
    assert not (tmp_path / "out.tif").exists()
    result = run_cli(command, first, one, two, "-o", tmp_path / "out", *extra)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == ["one.tif", "two.tif"]


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_sigterm_ends_a_command_as_ctrl_c_does(tmp_path, make_raster, name):
    """Ctrl-C, a job scheduler's SIGTERM or a closed terminal's SIGHUP mid-write: one line,
    the temporary file removed, nothing under the output's name, and the process ended by
    that signal (a shell's status 130, 143, 129), as shells and schedulers tell a stopped
    command from a failed one (it was exit 1 for all three, as for a bad input; then 130
    by exit(), which a shell's loop reads as handled and goes on)."""
    import signal
    import time

    image = _noise_image(make_raster, 2500)
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    def default_handler():  # as from a terminal: under nohup (or a CI runner ignoring it)
        # the signal is ignored, which geotile keeps (`nohup geotile ... &`)
        signal.signal(getattr(signal, name), signal.SIG_DFL)

    process = subprocess.Popen([sys.executable, "-m", "geotile", "predict", str(model),
                                str(image), "-o", str(out / "p.tif"), "--tile-size", "64"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_handler)
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.skip("the prediction ended before it could be interrupted")
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -getattr(signal, name), stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], stderr
    assert list(out.iterdir()) == []


def test_nohup_keeps_a_run_going_when_the_terminal_closes(tmp_path, make_raster):
    """`nohup geotile predict ... &` died at logout all the same: geotile replaced the
    ignored SIGHUP with its own handler. An ignored signal stays ignored."""
    import signal
    import time

    image = _noise_image(make_raster, 2500)
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()

    def as_nohup():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    process = subprocess.Popen([sys.executable, "-m", "geotile", "predict", str(model),
                                str(image), "-o", str(out / "p.tif"), "--tile-size", "64"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=as_nohup)
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.skip("the prediction ended before the terminal could close")
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert [p.name for p in out.iterdir()] == ["p.tif"]


def test_signals_held_while_tiles_are_published_go_to_the_processs_own_handlers(
        make_raster, tmp_path, monkeypatch):
    """A service ignoring SIGHUP (nohup) with its own SIGTERM handler (a graceful stop)
    tiled an image; a SIGHUP and a SIGTERM arriving while the patches were moved in place
    made tile_rasters raise Interrupted, and the service's handler never ran. An ignored
    signal stays ignored; a handled one goes to its handler once the files are in place."""
    import signal

    import geotile.output_folder as output_folder
    from geotile.tiling import TileOptions, tile_rasters

    image = make_raster("i.tif", np.ones((3, 64, 64), np.uint8))
    publish = output_folder._publish

    def signalled_publish(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        return publish(*args, **kwargs)

    monkeypatch.setattr(output_folder, "_publish", signalled_publish)
    seen: list[int] = []

    def graceful(signum, frame):
        seen.append(signum)

    saved = signal.signal(signal.SIGHUP, signal.SIG_IGN), signal.signal(signal.SIGTERM,
                                                                          graceful)
    try:
        summary = tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=32))
        assert summary.written == 4
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is graceful
    finally:
        signal.signal(signal.SIGHUP, saved[0])
        signal.signal(signal.SIGTERM, saved[1])


def test_ctrl_c_stops_a_shell_loop_of_commands(tmp_path, make_raster):
    """Ctrl-C in `for f in ...; do geotile predict ...; done` stopped only the running
    command: geotile exited 130 by exit(), which bash takes as handled, and the loop went on
    to the next image. Dying by the signal, as Python itself does, ends the loop."""
    import os
    import shlex
    import signal
    import time

    image = _noise_image(make_raster, 2500)
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    command = " ".join(shlex.quote(str(a)) for a in (
        sys.executable, "-m", "geotile", "predict", model, image, "-o"))
    loop = (f"cd {shlex.quote(os.getcwd())}; for i in 1 2 3; do {command} "
            f"{shlex.quote(str(out))}/p$i.tif --tile-size 64; done")
    process = subprocess.Popen(["bash", "-c", loop], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if process.poll() is not None or any(out.glob("p*.tif")):
        pytest.skip("the prediction ended before it could be interrupted")
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGINT, 130), stderr
    assert stderr.count("interrupted") == 1, stderr
    assert list(out.iterdir()) == []


def test_a_leading_tilde_is_the_home_folder_in_every_path_option(run_cli, tmp_path,
                                                                 monkeypatch):
    # --output=~/x.tif (bash leaves that ~ alone) made a folder literally named ~ here
    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import write_raster

    home, work = tmp_path / "home", tmp_path / "work"
    (home / "tiles").mkdir(parents=True)
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    image = np.zeros((3, 64, 64), np.uint8)
    image[:, 16:48, 16:48] = 200
    write_raster(home / "tiles" / "a.tif", image)
    write_raster(home / "tiles" / "b.tif", image)
    pointwise_model(home / "m.onnx", activation="sigmoid")
    x0, y0 = UTM_ORIGIN
    gpd.GeoDataFrame({"class": ["building"]}, geometry=[box(x0 + 8, y0 - 24, x0 + 24, y0 - 8)],
                     crs=UTM_CRS).to_file(home / "fp.geojson")
    colours = np.zeros((3, 64, 64), np.uint8)
    colours[2, 16:48, 16:48] = 255
    write_raster(home / "labels.tif", colours)
    (home / "cm.json").write_text('{"building": 1}')
    (home / "pal.json").write_text('{"background": [0, 0, 0], "building": [0, 0, 255]}')
    runs = [
        ("predict", "~/m.onnx", "~/tiles/a.tif", "--output=~/p.tif", "--output-type", "class"),
        ("predict", "~/m.onnx", "~/tiles/*.tif", "-o", "~/preds/", "--merge", "~/all.vrt"),
        ("make-masks", "~/fp.geojson", "~/tiles", "-o", "~/masks/"),
        ("tile", "~/tiles/a.tif", "--masks", "~/masks/a.tif", "--size", "32", "-o", "~/patches"),
        ("vectorize", "~/p.tif", "-o", "~/v.geojson"),
        ("evaluate", "~/v.geojson", "~/fp.geojson", "--report", "~/r.html",
         "--errors", "~/e.gpkg"),
        ("make-masks", "~/fp.geojson", "~/tiles/a.tif", "-o", "~/cm.tif", "--class-field",
         "class", "--class-map", "~/cm.json"),
        ("make-masks", "~/labels.tif", "~/tiles/a.tif", "~/tiles/b.tif", "-o", "~/pm/",
         "--palette", "~/pal.json"),
    ]
    for args in runs:
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.output)
    assert list(work.iterdir()) == []
    for made in ("p.tif", "preds/a.tif", "preds/b.tif", "all.vrt", "masks/a.tif",
                 "masks/b.tif", "v.geojson", "r.html", "e.gpkg", "cm.tif", "pm/b.tif"):
        assert (home / made).is_file(), made
    assert len(list((home / "patches").rglob("*.tif"))) >= 4


def _contents(*paths) -> list[bytes]:
    return [Path(p).read_bytes() for p in paths]


def test_the_api_never_writes_over_its_inputs_even_with_overwrite(make_raster, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    import geotile

    image = make_raster("image.tif", np.full((3, 32, 32), 100, np.uint8))
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    x0, y0 = UTM_ORIGIN
    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame(geometry=[box(x0 + 2, y0 - 10, x0 + 10, y0 - 2)],
                     crs=UTM_CRS).to_file(labels)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.tif").symlink_to(image)
    before = _contents(image, model, labels)
    via_dots = tmp_path / "sub" / ".." / "image.tif"
    calls = [
        lambda: geotile.predict_raster(model, image, image, overwrite=True),
        lambda: geotile.predict_raster(model, image, str(via_dots), overwrite=True),
        lambda: geotile.predict_raster(model, image, tmp_path / "link.tif", overwrite=True),
        lambda: geotile.predict_raster(geotile.OnnxModel.from_path(model), image, model,
                                       overwrite=True),
        lambda: geotile.make_masks(labels, [image], [via_dots], overwrite=True),
        lambda: geotile.make_masks(labels, image, labels, overwrite=True),
    ]
    for call in calls:
        with pytest.raises(InputError) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "never writes over its inputs" in message, message
    assert _contents(image, model, labels) == before
    # one output given twice: refused before the first is written, not the last kept
    other = make_raster("other.tif", np.full((3, 16, 16), 100, np.uint8))
    with pytest.raises(InputError, match="given twice as an output"):
        geotile.make_masks(labels, [image, other], [tmp_path / "y.tif", str(tmp_path / "y.tif")],
                           overwrite=True)
    assert not (tmp_path / "y.tif").exists()


def test_evaluate_reports_never_replace_the_files_scored(make_raster, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    import geotile
    from geotile.error_layers import write_errors
    from geotile.report import write_report

    x0, y0 = UTM_ORIGIN
    truth = tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=[box(x0, y0 - 8, x0 + 8, y0)], crs=UTM_CRS).to_file(truth)
    image = make_raster("image.png", np.full((3, 32, 32), 100, np.uint8), driver="PNG")
    before = _contents(truth, image)
    result = geotile.evaluate_files(truth, truth)
    with pytest.raises(InputError, match="never writes over its inputs"):
        write_errors(result, tmp_path / "." / "truth.geojson", overwrite=True)
    with pytest.raises(InputError, match="never writes over its inputs"):
        write_report(result, image, image, overwrite=True)
    assert _contents(truth, image) == before


def test_a_folder_at_an_output_name_is_refused_before_any_work(run_cli, make_raster, tmp_path):
    """predict -o pd --overwrite with a user's folder pd/t1.tif wrote t0.tif, then failed at
    t1 advising "Free space"; evaluate --errors <folder>.gpkg --overwrite likewise."""
    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx")
    images = [make_raster(f"t{i}.tif", np.full((3, 16, 16), 50 * i, np.uint8))
              for i in range(3)]
    (tmp_path / "pd" / "t1.tif").mkdir(parents=True)
    (tmp_path / "pd" / "t1.tif" / "keep.txt").write_text("mine")
    for extra in ((), ("--overwrite",), ("--resume",)):
        result = run_cli("predict", model, *images, "-o", tmp_path / "pd", *extra)
        assert_one_line_error(result, "t1.tif", "is a folder", "choose another output")
        assert "Free space" not in result.stderr
        assert sorted(p.name for p in (tmp_path / "pd").iterdir()) == ["t1.tif"]
    assert (tmp_path / "pd" / "t1.tif" / "keep.txt").read_text() == "mine"
    x0, y0 = UTM_ORIGIN
    truth = tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=[box(x0, y0 - 8, x0 + 8, y0)], crs=UTM_CRS).to_file(truth)
    (tmp_path / "e.gpkg").mkdir()
    result = run_cli("evaluate", truth, truth, "--errors", tmp_path / "e.gpkg", "--overwrite")
    assert_one_line_error(result, "e.gpkg", "is a folder")
    assert list((tmp_path / "e.gpkg").iterdir()) == []


@pytest.mark.parametrize(("code", "reason", "advice"), [
    (13, "Permission denied", "fix its permissions"),
    (30, "Read-only file system", "read-only: choose another output folder"),
    (21, "Is a directory", "choose another output name"),
    (28, "No space left on device", "Free space"),
])
def test_write_failures_advise_by_reason(run_cli, make_raster, tmp_path, monkeypatch, code,
                                         reason, advice):
    """A read-only folder or a permission error was advised 'Free space' by atomic_output,
    GDAL's write errors and the command line's last resort; the advice follows the errno (or
    the system's reason in GDAL's message) now."""
    from rasterio.errors import RasterioIOError

    import geotile.tiling

    from .conftest import assert_one_line_error

    out = tmp_path / "o.tif"
    for error in (lambda tmp: OSError(code, reason, str(tmp)),
                  lambda tmp: RasterioIOError(f"Attempt to create new tiff file '{tmp}' "
                                              f"failed: {reason}")):
        with pytest.raises(InputError) as caught, atomic_output(out) as tmp:
            raise error(tmp)
        assert str(caught.value).startswith(f"{out}: ") and reason in str(caught.value)
        assert advice in str(caught.value)
        assert ("Free space" in str(caught.value)) == (code == 28)
    assert not out.exists()

    def failing(*args, **kwargs):
        raise OSError(code, reason, str(tmp_path / "out" / "x.tif"))

    monkeypatch.setattr(geotile.tiling, "tile_rasters", failing)
    image = make_raster("img.tif", np.ones((1, 20, 20), np.uint8))
    result = run_cli("tile", image, "-o", tmp_path / "out")
    assert_one_line_error(result, "x.tif", reason, advice)
    assert ("Free space" in result.stderr) == (code == 28)


def _predict_under_a_file_size_limit(make_raster, tmp_path, *options, limit=200_000,
                                     size=700):
    """``geotile predict`` of a noise image to p.tif (float32) in a process whose files may
    not grow past ``limit`` bytes (a full disk's stand-in): its CompletedProcess."""
    import resource

    image = _noise_image(make_raster, size)
    model = pointwise_model(tmp_path / "m.onnx")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1"}

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "geotile", "predict", str(model), str(image),
                           "-o", str(tmp_path / "p.tif"), "--dtype", "float32", *options],
                          capture_output=True, text=True, timeout=120, env=env,
                          preexec_fn=limit_files)


def test_libtiff_prints_no_lines_of_its_own_on_a_full_disk(make_raster, tmp_path):
    """A full disk (here a file-size limit) printed a raw `_tiffWriteProc: File too large.`
    line per block before geotile's one-line error."""
    done = _predict_under_a_file_size_limit(make_raster, tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / 'p.tif'}: "), lines
    assert not (tmp_path / "p.tif").exists()


def test_a_file_size_limit_is_said_once_libtiff_lines_are_hidden(make_raster, tmp_path):
    """With libtiff's own `_tiffWriteProc: File too large.` lines hidden, predict said only
    'disk full or an I/O error ... Free space and run again' (and a COG 'TIFFReadEncodedTile()
    failed ... Free space') on a 200 kB file-size limit: the one line names the limit now."""
    for cog in ((), ("--cog",)):
        done = _predict_under_a_file_size_limit(make_raster, tmp_path, *cog)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert "file-size limit" in lines[0] and "200000 bytes" in lines[0], lines[0]
        assert "ulimit -f" in lines[0] and "Free space" not in lines[0], lines[0]
        assert not (tmp_path / "p.tif").exists()


def test_a_file_size_limit_hit_by_the_first_block_is_said(make_raster, tmp_path):
    """Under a 2 kB file-size limit the first strip's write (a 192 px output is striped,
    written through) failed in rasterio, whose
    'Write failed. See previous exception for details.' was the reason given, with 'Free
    space or choose another folder' (a disk with space): the line names the limit now."""
    for cog in ((), ("--cog",)):
        done = _predict_under_a_file_size_limit(make_raster, tmp_path, *cog, limit=2048,
                                                size=192)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / 'p.tif'}: "), lines
        assert "previous exception" not in lines[0], lines[0]
        assert "file-size limit" in lines[0] and "2048 bytes" in lines[0], lines[0]
        assert "ulimit -f" in lines[0] and "Free space" not in lines[0], lines[0]
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(("p.", ".p."))] == []


def test_inputs_with_names_near_the_file_system_limit_are_written(run_cli, make_raster,
                                                                  tmp_path):
    """A 247-byte image name (255 is the limit, its .aux.xml takes 8) is a legal name: predict and
    make-masks write <stem>.tif beside it (their temporary file's longer name once failed
    with 'File name too long'), tile cuts its patches (the sidecar check once failed)."""
    from shapely.geometry import box

    pixels = np.random.default_rng(0).integers(0, 255, (3, 64, 64), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    (tmp_path / "tiles").mkdir()
    image = make_raster("images/" + "é" * 3 + "z" * 237 + ".tif", pixels)
    assert len(image.name.encode()) == 247  # its .aux.xml: 255
    model = pointwise_model(tmp_path / "m.onnx")
    labels = tmp_path / "labels.geojson"
    import geopandas as gpd

    gpd.GeoDataFrame(geometry=[box(740005, 3734980, 740015, 3734990)],
                     crs=UTM_CRS).to_file(labels)
    result = run_cli("predict", model, image.parent, "-o", f"{tmp_path / 'pred'}/")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pred" / image.name).is_file()
    result = run_cli("make-masks", labels, image.parent, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / image.name) as mask:
        assert mask.read(1).sum() == 400
    short = make_raster("tiles/" + "t" * 247 + ".tif", pixels)
    result = run_cli("tile", short, "-o", tmp_path / "patches", "--size", "32")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "patches" / "images").iterdir())) == 4
    assert not [p for p in tmp_path.rglob(".*") if "tmp" in p.name]


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson"])
def test_vector_outputs_with_names_near_the_file_system_limit_are_written(
        run_cli, make_raster, tmp_path, suffix):
    """A 245-byte vector output name is a legal name: vectorize and evaluate --errors
    refused it ('.<name>.1e36b7d3.tmp: File name too long. Choose a shorter output name.'),
    the temporary folder beside it taking the whole name and 14 bytes more."""
    import geopandas as gpd

    pixels = np.zeros((1, 64, 64), np.uint8)
    pixels[0, 8:24, 8:24] = 1
    raster = make_raster("classes.tif", pixels)
    stem = "é" * 3 + "z" * (239 - len(suffix))
    out = tmp_path / f"{stem}{suffix}"
    assert len(out.name.encode()) == 245
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == 1
    errors = tmp_path / f"{stem[:-1]}e{suffix.replace('.shp', '.fgb')}"
    result = run_cli("evaluate", out, out, "--errors", errors)
    assert result.exit_code == 0, result.output
    assert list(gpd.read_file(errors)["kind"]) == ["TP"]
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_inputs_with_non_ascii_names_longer_than_the_temporary_stem_are_written(
        run_cli, make_raster, tmp_path):
    """A 160-byte Cyrillic image name ('ортофото_участок_' x 5): its temporary stem, cut to
    120 bytes, ended inside a character (a lone surrogate), and predict and make-masks
    failed with a UnicodeEncodeError traceback (exit 1). Now the cut keeps whole characters
    and both write <stem>.tif beside it, as with a shorter name."""
    from shapely.geometry import box

    pixels = np.random.default_rng(0).integers(0, 255, (3, 64, 64), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    image = make_raster("images/" + "ортофото_участок_" * 5 + ".tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx")
    labels = tmp_path / "labels.geojson"
    import geopandas as gpd

    gpd.GeoDataFrame(geometry=[box(740005, 3734980, 740015, 3734990)],
                     crs=UTM_CRS).to_file(labels)
    result = run_cli("predict", model, image, "-o", f"{tmp_path / 'pred'}/")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pred" / image.name).is_file()
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / image.name) as mask:
        assert mask.read(1).sum() == 400
    assert not [p for p in tmp_path.rglob(".*") if "tmp" in p.name]


@pytest.mark.parametrize("merge", [False, True])
def test_a_cog_copy_failing_without_a_write_word_names_the_output(run_cli, make_raster,
                                                                  tmp_path, monkeypatch, merge):
    """On a nearly full disk (a 2 MB tmpfs, a 1.5 MB prediction) GDAL's COG copy failed with
    'FillEmptyTiles() failed because panByteCounts == NULL': predict --cog said only
    'Error: GDAL: FillEmptyTiles() ...', naming no output. It is the output's write failure."""
    import rasterio.shutil
    from rasterio._err import CPLE_AppDefinedError

    from .conftest import assert_one_line_error

    def full_disk(src, dst, **kwargs):
        Path(dst).write_bytes(b"II*\x00" + bytes(1000))  # GDAL's partial file
        raise CPLE_AppDefinedError(3, 1, "FillEmptyTiles() failed because panByteCounts == "
                                   "NULL")

    monkeypatch.setattr(rasterio.shutil, "copy", full_disk)
    image = make_raster("img.tif", np.full((3, 64, 64), 7, np.uint8))
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    if merge:
        final = out / "merged.tif"
        result = run_cli("predict", model, image, "-o", f"{out / 'p'}/", "--merge", final)
    else:
        final = out / "p.tif"
        result = run_cli("predict", model, image, "-o", final, "--cog")
    assert_one_line_error(result, f"{final}: ", "FillEmptyTiles", "Free space")
    assert ".tmp" not in result.stderr and "GDAL: FillEmptyTiles" not in result.stderr
    assert not final.exists()
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == (["p", "p/img.tif"] if merge else []), left


def test_an_output_under_a_file_is_refused_before_any_work(run_cli, make_raster, tmp_path):
    """An output path under a file (notes.txt/out.gpkg) was said as 'notes.txt: cannot
    create the output folder (File exists)', and evaluate --errors/--report and vectorize
    found it out only after all their work (evaluate printed its scores first). It is one
    line naming the file in the way now, before any work, and nothing is written."""
    from .conftest import assert_one_line_error

    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    truth, image = _truth_and_mask(tmp_path, make_raster)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    for args, out in [
        (("evaluate", truth, truth, "--errors"), blocker / "e.gpkg"),
        (("evaluate", truth, truth, "--report"), blocker / "r.png"),
        (("vectorize", image, "-o"), blocker / "sub" / "v.shp"),
        (("make-masks", truth, image, "-o"), blocker / "m.tif"),
        (("predict", model, image, "-o"), blocker / "p.tif"),
    ]:
        result = run_cli(*args, out)
        assert_one_line_error(result, f"{out}: {blocker} is a file, not a folder")
        assert "TP" not in result.stdout, result.stdout
    assert blocker.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "mask.tif", "notes.txt",
                                                          "truth.geojson"]


def test_tile_npy_patches_past_a_file_size_limit_say_why(make_raster, tmp_path):
    """tile --format npy under a 100 kB file-size limit (196608-byte patches) said only
    'r: 196608 requested and 102272 written; ... Check the output folder' (numpy's short
    write, no errno); it says 'File too large' and advises the limit now, as GeoTIFF
    patches do, and nothing is left."""
    import resource

    make_raster("b.tif", np.random.default_rng(1).integers(0, 255, (3, 512, 512), np.uint8))
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    done = subprocess.run([sys.executable, "-m", "geotile", "tile", str(tmp_path / "b.tif"),
                           "-o", str(out), "--size", "256", "--format", "npy"],
                          capture_output=True, text=True, env=env, timeout=120,
                          preexec_fn=limit_files)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and "ulimit -f" in lines[0], lines
    assert "requested" not in lines[0]
    assert not out.exists()


def test_a_cog_copy_failing_to_read_an_input_is_not_called_a_write_failure(tmp_path):
    """--merge of a tile whose data is cut (a truncated prediction kept by --resume) said
    'm.tif: GDAL could not write it (t1.tif, band 1: IReadBlock failed ...). Free space or
    choose another folder.': the read error of the input surfaces as itself."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    from geotile.merge import merge_rasters

    tiles = []
    for i in range(2):
        with rasterio.open(tmp_path / f"t{i}.tif", "w", driver="GTiff", width=256, height=256,
                           count=1, dtype="float32", crs=UTM_CRS, tiled=True, blockxsize=64,
                           blockysize=64, transform=rasterio.transform.from_origin(
                               UTM_ORIGIN[0] + 256 * i, UTM_ORIGIN[1], 1, 1)) as dst:
            dst.write(np.random.default_rng(i).random((1, 256, 256), dtype=np.float32))
        tiles.append(tmp_path / f"t{i}.tif")
    os.truncate(tiles[1], tiles[1].stat().st_size // 2)
    with pytest.raises((RasterioError, CPLE_BaseError, InputError)) as caught:
        merge_rasters(tiles, tmp_path / "m.tif")
    message = str(caught.value)
    assert "t1.tif" in message and "IReadBlock" in message, message
    assert "could not write" not in message and "Free space" not in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t0.tif", "t1.tif"]


def test_a_cog_copy_failing_to_read_back_its_own_overviews_names_the_output(tmp_path,
                                                                            monkeypatch):
    """On a full disk GDAL may fail reading back the COG's own temporary overviews
    ('<tmp>.ovr.tmp, band 1: IReadBlock failed'): that is still the output's write."""
    import rasterio.shutil
    from rasterio._err import CPLE_AppDefinedError

    from geotile.merge import merge_rasters

    def short_overviews(src, dst, **kwargs):
        raise CPLE_AppDefinedError(3, 1, f"{dst}.ovr.tmp, band 1: IReadBlock failed at X "
                                   "offset 0, Y offset 0: TIFFReadEncodedTile() failed.")

    monkeypatch.setattr(rasterio.shutil, "copy", short_overviews)
    tile = _geotiff(tmp_path / "t.tif", 64)
    with pytest.raises(InputError, match=r"m\.tif: GDAL could not write it"):
        merge_rasters([tile], tmp_path / "m.tif")


def test_an_output_under_a_dangling_link_is_refused_before_any_work(run_cli, make_raster,
                                                                     tmp_path):
    """An output under a link to a folder that is gone (an unmounted drive: data ->
    /mnt/usb/data) passed the check before work: evaluate printed 'TP 1 ...' and then
    'data: cannot create the output folder (File exists)'. It is one line naming the link
    and where it points, before any work; nothing is written."""
    from .conftest import assert_one_line_error

    link = tmp_path / "data"
    link.symlink_to(tmp_path / "gone" / "data")
    truth, image = _truth_and_mask(tmp_path, make_raster)
    for args, out in [
        (("evaluate", truth, truth, "--errors"), link / "e.gpkg"),
        (("evaluate", truth, truth, "--report"), link / "sub" / "r.png"),
        (("vectorize", image, "-o"), link / "v.gpkg"),
        (("make-masks", truth, image, "-o"), link / "m.tif"),
    ]:
        result = run_cli(*args, out)
        assert_one_line_error(result, f"{out}: {link} is a link to {tmp_path / 'gone' / 'data'}"
                              ", which does not exist")
        assert "TP" not in result.stdout, result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "mask.tif", "truth.geojson"]


def _truth_and_mask(tmp_path, make_raster):
    """A truth GeoJSON with one 8 m building and a 32 px mask holding it, on UTM_ORIGIN."""
    import geopandas as gpd
    from shapely.geometry import box

    x0, y0 = UTM_ORIGIN
    truth = tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=[box(x0, y0 - 8, x0 + 8, y0)], crs=UTM_CRS).to_file(truth)
    mask = np.zeros((1, 32, 32), np.uint8)
    mask[0, 4:12, 4:12] = 1
    return truth, make_raster("mask.tif", mask)


def test_two_overwriting_runs_into_one_shapefile_leave_one_whole(tmp_path, monkeypatch):
    """Two `vectorize --overwrite -o out.shp` runs at once (one output given twice in a job
    array) moved their parts in turn: out.shp of one with out.shx/.dbf of the other, a file
    whose geometries read as None. One run's parts now all go in before the other's."""
    import threading
    import time

    import geopandas as gpd
    import shapely

    import geotile.output_files as output_files_module
    from geotile.vector_output import write_vector

    out = tmp_path / "out.shp"
    frames = {
        "slow": gpd.GeoDataFrame({"source": ["slow"]}, geometry=[shapely.box(0, 0, 1, 1)],
                                 crs=UTM_CRS),
        "fast": gpd.GeoDataFrame({"source": ["fast"] * 3}, geometry=[
            shapely.Polygon([(i, 0), (i + 1, 0), (i + 1, 1), (i, 2), (i, 0)])
            for i in range(3)], crs=UTM_CRS),
    }
    publish = output_files_module.publish
    first_part_in = threading.Event()

    def slow_publish(tmp, final, overwrite):
        publish(tmp, final, overwrite)
        if threading.current_thread().name == "slow":
            first_part_in.set()
            time.sleep(0.3)  # the other run moves its parts meanwhile

    monkeypatch.setattr(output_files_module, "publish", slow_publish)

    def run(name):
        if name == "fast":
            first_part_in.wait(5)
        write_vector(frames[name], out, "ESRI Shapefile", overwrite=True)

    threads = [threading.Thread(target=run, args=(n,), name=n) for n in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = gpd.read_file(out, engine="pyogrio")
    winner = written["source"][0]
    alone = tmp_path / "alone" / "out.shp"
    write_vector(frames[winner], alone, "ESRI Shapefile", overwrite=False)
    assert list(written["source"]) == list(frames[winner]["source"])
    for suffix in (".shp", ".shx", ".prj", ".cpg"):  # the .dbf holds today's date
        assert out.with_suffix(suffix).read_bytes() == alone.with_suffix(suffix).read_bytes()


def _shapefile_frames():
    import geopandas as gpd
    import shapely

    return (gpd.GeoDataFrame({"source": ["old"]}, geometry=[shapely.box(0, 0, 1, 1)],
                             crs=UTM_CRS),
            gpd.GeoDataFrame({"source": ["new"] * 3}, geometry=[
                shapely.box(i, 0, i + 0.5, 1) for i in range(3)], crs=UTM_CRS))


def test_ctrl_c_while_a_shapefile_moves_in_leaves_it_whole(tmp_path, monkeypatch):
    """Ctrl-C while `vectorize --overwrite -o out.shp` moved its parts in left the new
    out.shx with the old out.shp (39 shapes read as 5,738 features) and said 'nothing was
    written under that name'. The parts now all move in first, and the line says so."""
    import signal

    import geopandas as gpd

    import geotile.output_files as output_files_module
    from geotile.vector_output import write_vector

    out = tmp_path / "out.shp"
    old, new = _shapefile_frames()
    write_vector(old, out, "ESRI Shapefile", overwrite=False)
    publish = output_files_module.publish

    def interrupted(tmp, final, overwrite):
        publish(tmp, final, overwrite)
        signal.raise_signal(signal.SIGINT)  # Ctrl-C once the first part is in

    monkeypatch.setattr(output_files_module, "publish", interrupted)
    with pytest.raises(Interrupted, match=r"out\.shp: interrupted after .* written completely"):
        write_vector(new, out, "ESRI Shapefile", overwrite=True)
    monkeypatch.undo()
    written = gpd.read_file(out, engine="pyogrio")
    assert list(written["source"]) == ["new"] * 3
    assert [g.bounds for g in written.geometry] == [g.bounds for g in new.geometry]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.cpg", "out.dbf", "out.prj", "out.shp", "out.shx"]


def test_a_kill_while_a_shapefile_moves_in_leaves_no_mixed_shapefile(tmp_path):
    """kill -9 while `vectorize --overwrite -o out.shp` moved its parts in left the new
    out.shx and out.dbf beside the old out.shp: a Shapefile that opens, its features read
    through another file's index. The old out.shp now goes first: what a kill leaves has no
    .shp to open (a later --overwrite writes it whole)."""
    import geopandas as gpd

    from geotile.vector_output import write_vector

    out = tmp_path / "out.shp"
    old, new = _shapefile_frames()
    write_vector(old, out, "ESRI Shapefile", overwrite=False)
    new.to_file(tmp_path / "new.geojson")
    script = (
        "import os, sys, geopandas as gpd\n"
        "import geotile.output_files as o\n"
        "from geotile.vector_output import write_vector\n"
        "publish = o.publish\n"
        "def killed(tmp, final, overwrite):\n"
        "    publish(tmp, final, overwrite)\n"
        "    os._exit(9)  # kill -9 once the first part is in\n"
        "o.publish = killed\n"
        "write_vector(gpd.read_file(sys.argv[1]), __import__('pathlib').Path(sys.argv[2]),\n"
        "             'ESRI Shapefile', overwrite=True)\n")
    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path / "new.geojson"),
                             str(out)], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert not out.exists()
    write_vector(new, out, "ESRI Shapefile", overwrite=True)
    assert list(gpd.read_file(out, engine="pyogrio")["source"]) == ["new"] * 3


def test_ctrl_c_between_a_raster_and_its_sidecar_leaves_both(tmp_path, monkeypatch):
    """Ctrl-C right after a class raster moved into place, before its .aux.xml (category
    names) followed it, left x.tif without its names and said 'nothing was written under
    that name'. Ctrl-C now waits until the sidecar is in too, and the line says so."""
    import signal

    import geotile.output_files as output_files_module
    from geotile.output_files import pam_sidecar

    final = tmp_path / "x.tif"
    publish = output_files_module.publish

    def interrupted(tmp, final, overwrite):
        publish(tmp, final, overwrite)
        signal.raise_signal(signal.SIGINT)  # Ctrl-C once the raster is in

    monkeypatch.setattr(output_files_module, "publish", interrupted)
    with pytest.raises(Interrupted, match=r"x\.tif: interrupted after .* written completely"), \
            atomic_output(final) as tmp:
        _geotiff(tmp, size=64)
        pam_sidecar(tmp).write_text("<PAMDataset><Metadata/></PAMDataset>\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tif", "x.tif.aux.xml"]
    assert pam_sidecar(final).read_text() == "<PAMDataset><Metadata/></PAMDataset>\n"


def _probability_raster(make_raster):
    from rasterio.transform import from_origin

    probability = np.zeros((40, 40), np.float32)
    probability[5:15, 5:15] = 0.9
    probability[20:30, 22:35] = 0.8
    return make_raster("p.tif", probability, crs=UTM_CRS,
                       transform=from_origin(*UTM_ORIGIN, 1, 1))


@pytest.mark.parametrize("name", ["out.gpkg", "out.csv"])
def test_ctrl_c_after_vectorize_wrote_its_output_says_it_is_in_place(
        tmp_path, make_raster, monkeypatch, name):
    """Ctrl-C after `vectorize -o x.csv` (or .gpkg) had moved its output into place, while it
    looked for rasters without a valid pixel (0.1 s for a 1,500 px raster; 2 of 10 Ctrl-Cs
    near the end of a kill trial), said 'interrupted; nothing was written under that name'
    of a complete x.csv, which the re-run then refused as existing. The line now says the
    output is in place. (One raster that gave polygons is not read again: a raster of
    none is, as several rasters are.)"""
    from rasterio.transform import from_origin

    import geotile.raster as raster_module
    from geotile.vectorize_modes import vectorize_rasters

    path = make_raster("p.tif", np.zeros((40, 40), np.float32), crs=UTM_CRS,
                       transform=from_origin(*UTM_ORIGIN, 1, 1))
    out = tmp_path / name

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(raster_module, "holds_valid_pixel", interrupted)
    with pytest.raises(Interrupted, match=rf"{name}: interrupted after .* written completely"):
        vectorize_rasters([path], out)
    monkeypatch.undo()
    assert out.is_file()
    assert vectorize_rasters([path], tmp_path / f"again{out.suffix}")["features"] == 0


def test_ctrl_c_while_vectorize_writes_a_csv_names_the_csv(tmp_path, make_raster,
                                                             monkeypatch):
    """Ctrl-C while `vectorize -o x.csv` wrote a raster's polygons into its own temporary
    GeoPackage said 'Error: /tmp/geotile-dw5bpx6q/polygons.gpkg: interrupted; nothing was
    written under that name', a file the user never named. The line now names x.csv."""
    import geotile.vector_output as vector_output_module
    from geotile.vectorize_modes import vectorize_rasters

    path = _probability_raster(make_raster)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vector_output_module, "_write", interrupted)
    with pytest.raises(Interrupted) as caught:
        vectorize_rasters([path], tmp_path / "out.csv")
    assert str(caught.value).startswith(f"{tmp_path / 'out.csv'}: interrupted; nothing was "
                                        "written under that name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.tif"]


def test_an_output_that_appears_meanwhile_cut_short_with_this_runs_tag_is_refused(tmp_path):
    """A file that appeared meanwhile with this run's completion tag but cut short (a copy
    or rsync killed: the header, tag included, is whole) was kept as this output and the
    run ended as done, this run's complete copy removed: an output that looked complete was
    not. It is refused as any file that appeared is, this run's copy not taken for it."""
    final = tmp_path / "out.tif"
    with pytest.raises(OutputExistsError, match="appeared"), \
            atomic_output(final, written_meanwhile=completed_as("run-a")) as tmp:
        _geotiff(tmp)
        with rasterio.open(_geotiff(tmp_path / "theirs.tif")) as src, \
                rasterio.open(final, "w", **src.profile) as dst:
            dst.update_tags(GEOTILE_COMPLETE="run-a")  # in the header, as geotile writes it
            dst.write(src.read())
        (tmp_path / "theirs.tif").unlink()
        with open(final, "r+b") as cut:
            cut.truncate(final.stat().st_size // 2)
    with rasterio.open(final) as src:
        assert src.tags()["GEOTILE_COMPLETE"] == "run-a"  # the cut file, left as it is
    assert list(tmp_path.iterdir()) == [final]


@pytest.mark.parametrize("where", ["while its lock is taken", "once its lock is held"])
def test_ctrl_c_as_an_output_starts_leaves_no_lock_file(tmp_path, monkeypatch, where):
    """Ctrl-C or SIGTERM just after atomic_output made its temporary's lock file, before
    the write began, left '.p.<hex>.tmp.tif.lock' in the output folder for good (2 of 6
    runs of test_sigterm_ends_a_command_as_ctrl_c_does: it waits for the first file there).
    The lock file now goes as the temporary file does."""
    import geotile.output_files as output_files_module

    landed = []

    def ctrl_c(call, *args):  # once: the signal's one exception
        if not landed:
            landed.append(True)
            raise KeyboardInterrupt
        return call(*args)

    if where == "while its lock is taken":
        fstat = os.fstat
        monkeypatch.setattr(output_files_module.os, "fstat", lambda fd: ctrl_c(fstat, fd))
    else:
        pam_sidecar = output_files_module.pam_sidecar
        monkeypatch.setattr(output_files_module, "pam_sidecar", lambda path: ctrl_c(
            pam_sidecar, path) if ".tmp" in os.fspath(path) else pam_sidecar(path))
    with pytest.raises((Interrupted, KeyboardInterrupt)), \
            atomic_output(tmp_path / "p.tif") as tmp:
        _geotiff(tmp)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_an_output_another_run_finished_is_checked_says_it_is_in_place(
        tmp_path, monkeypatch):
    """Ctrl-C while atomic_output checked a file that appeared meanwhile with this run's
    completion tag (held until the check ended) said 'interrupted; nothing was written
    under that name' of an output in place, complete. The line now says it is in place."""
    import signal

    same_output = completed_as("run-a")

    def interrupted(*args):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the file that appeared is read
        return same_output(*args)

    final = tmp_path / "out.tif"
    with pytest.raises(Interrupted, match=r"out\.tif: interrupted after .* written completely"), \
            atomic_output(final, written_meanwhile=interrupted) as tmp:
        _geotiff(tmp, size=64)
        with rasterio.open(tmp) as src, rasterio.open(final, "w", **src.profile) as dst:
            dst.update_tags(GEOTILE_COMPLETE="run-a")
            dst.write(src.read())
    assert list(tmp_path.iterdir()) == [final]


@pytest.mark.parametrize("merge", [False, True])
def test_a_cog_copy_failing_a_short_read_of_its_own_overviews_names_the_output(
        run_cli, make_raster, tmp_path, monkeypatch, merge):
    """On a 900 kB tmpfs (an 887 kB prediction) the COG's temporary overviews were cut
    without a word and read back short: predict --cog said only 'Error: GDAL: Cannot read
    39768 bytes at offset 935', naming no file and no fix. A read error naming no input is
    the output's write failure."""
    import rasterio.shutil
    from rasterio._err import CPLE_AppDefinedError

    from .conftest import assert_one_line_error

    def short_overviews(src, dst, **kwargs):
        raise CPLE_AppDefinedError(3, 1, "Cannot read 39768 bytes at offset 935")

    monkeypatch.setattr(rasterio.shutil, "copy", short_overviews)
    image = make_raster("img.tif", np.full((3, 64, 64), 7, np.uint8))
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    if merge:
        final = out / "merged.tif"
        result = run_cli("predict", model, image, "-o", f"{out / 'p'}/", "--merge", final)
    else:
        final = out / "p.tif"
        result = run_cli("predict", model, image, "-o", final, "--cog")
    assert_one_line_error(result, f"{final}: GDAL could not write it", "Cannot read 39768",
                          "Free space")
    assert ".tmp" not in result.stderr
    assert not final.exists()
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == (["p", "p/img.tif"] if merge else []), left


def test_a_cut_intermediate_of_a_cog_is_said_for_the_output(run_cli, make_raster, tmp_path,
                                                            monkeypatch):
    """predict --cog on a 200 kB tmpfs: the GeoTIFF written before the COG copy was cut at
    close without an error, and the copy failed with 'p.tif: could not be written
    (.p.b3f6c233.tmp.tif.gtiff: TIFFReadDirectory:Failed to read directory at offset
    204800)', naming the temporary file. It is checked before the copy now, as a plain
    GeoTIFF output is: one line for the output, nothing left."""
    import geotile.quiet_warnings
    from geotile.quiet_warnings import quietly

    from .conftest import assert_one_line_error

    @contextlib.contextmanager
    def cut_at_close(opener, path, *args, **kwargs):
        with quietly(opener, path, *args, **kwargs) as dst:
            yield dst
        if str(path).endswith(".gtiff"):
            os.truncate(path, 16)  # the directory, rewritten at close, is gone

    monkeypatch.setattr(geotile.quiet_warnings, "quietly", cut_at_close)
    rng = np.random.default_rng(3)
    image = make_raster("img.tif", rng.integers(0, 255, (3, 300, 300), dtype=np.uint8))
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("predict", model, image, "-o", out / "p.tif", "--cog", "--tile-size", "64")
    assert_one_line_error(result, f"{out / 'p.tif'}: the GeoTIFF was not written completely",
                          "Free space")
    assert ".tmp" not in result.stderr and "gtiff" not in result.stderr
    assert list(out.iterdir()) == []


def test_a_cut_model_grid_under_model_resolution_is_said_for_the_output(
        run_cli, make_raster, tmp_path, monkeypatch):
    """predict --model-resolution on a 100 kB tmpfs: the raster on the model's grid, kept
    beside the output, was cut at close without an error, and reading it back said 'p.tif:
    could not be written (Read failed. See previous exception for details.)', a line that
    says nothing. It is checked once written: one line for the output, nothing left."""
    from .conftest import assert_one_line_error

    real_open = rasterio.open

    @contextlib.contextmanager
    def cut(path, *args, **kwargs):
        with real_open(path, *args, **kwargs) as dst:
            yield dst
        os.truncate(path, os.path.getsize(path) // 2)

    def cut_at_close(path, mode="r", *args, **kwargs):
        if mode == "w" and str(path).endswith(".model-grid.tif"):
            return cut(path, mode, *args, **kwargs)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", cut_at_close)
    rng = np.random.default_rng(3)
    image = make_raster("img.tif", rng.integers(0, 255, (3, 300, 300), dtype=np.uint8))
    with real_open(image) as src:
        pixel = abs(src.res[0])
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("predict", model, image, "-o", out / "p.tif", "--tile-size", "64",
                     "--model-resolution", str(pixel * 2))
    assert_one_line_error(result, f"{out / 'p.tif'}: the GeoTIFF was not written completely",
                          "Free space")
    assert ".tmp" not in result.stderr and "previous exception" not in result.stderr
    assert list(out.iterdir()) == []


@contextlib.contextmanager
def _unwritable(folder: Path):
    """``folder`` refusing new and removed entries meanwhile: chmod 555, or, where that does
    not bind (root), ``chattr +i``; the test is skipped where neither does."""
    def refuses() -> bool:
        probe = folder / f".probe{uuid.uuid4().hex}"
        try:
            probe.touch()
        except OSError:
            return True
        probe.unlink()
        return False

    folder.chmod(0o555)
    immutable = False
    try:
        if not refuses():
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True,
                                       check=False).returncode == 0 if os.name == "posix" \
                else False
            if not (immutable and refuses()):
                pytest.skip("this user writes into a read-only folder (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def test_a_folder_made_read_only_midway_is_one_line_naming_the_output(tmp_path):
    """A folder made read-only while an output was written (its owner's chmod, a remount):
    the rename failed, then removing the temporary file failed too, and that error replaced
    geotile's line: 'mid/.s1.4692bc5f.tmp.tif: Permission denied', a name the user never
    gave, with no word that the 7 MB temporary file was left. The line names the output and
    the temporary file left behind."""
    final = tmp_path / "out" / "s1.tif"
    with contextlib.ExitStack() as stack:
        with pytest.raises(InputError) as caught, atomic_output(final) as tmp:
            _geotiff(tmp, size=64)
            stack.enter_context(_unwritable(final.parent))
        text = str(caught.value)
        assert text.startswith(f"{final}: could not be written ("), text
        assert "nothing was left under that name" in text and "\n" not in text
        left = [p for p in final.parent.iterdir() if not p.name.endswith(".lock")]
        assert len(left) == 1 and left[0].name.startswith(".s1.")
        assert f"temporary file {left[0]} could not be removed" in text, text
        assert not final.exists()


def test_an_output_whose_sidecar_name_is_too_long_is_not_left_without_it(tmp_path):
    """make-masks of an image named with 251 bytes (legal, 255 with .tif): the mask moved
    into place, then its .aux.xml (class names; 263 bytes) could not be, and the mask was
    left without it, with 'lo/m/.zzz...tmp.tif.aux.xml: File name too long' naming a
    temporary file. The sidecar's name is checked before the move: one line naming the
    output, nothing left."""
    final = tmp_path / ("z" * 251 + ".tif")
    with pytest.raises(InputError) as caught, atomic_output(final) as tmp:
        _geotiff(tmp, size=32)
        Path(f"{tmp}.aux.xml").write_text("<PAMDataset/>", encoding="utf-8")
    text = str(caught.value)
    assert text.startswith(f"{final}: ") and "\n" not in text, text
    assert ".aux.xml" in text and "at most" in text and "shorter" in text, text
    assert list(tmp_path.iterdir()) == []


def _external_mask(path: Path, image: Path) -> None:
    """Give ``path`` (an upper-case .MSK name) the external mask GDAL writes for ``image``:
    every pixel masked."""
    import shutil

    copy = image.with_name(f"masked_{image.name}")
    shutil.copy(image, copy)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False), rasterio.open(copy, "r+") as dst:
        dst.write_mask(np.zeros((dst.height, dst.width), np.uint8))
    os.replace(f"{copy}.msk", path)
    copy.unlink()


@pytest.mark.skipif(sys.platform == "win32", reason="GDAL looks for .MSK/.OVR off Windows only")
def test_an_upper_case_msk_beside_an_output_is_refused_and_replaced_with_it(
        run_cli, make_raster, tmp_path):
    """A stray out.tif.MSK (a copy from Windows, ArcGIS' spelling) is read by GDAL, on a
    case-sensitive disk, as out.tif's mask when no out.tif.msk exists: predict wrote out.tif,
    exit 0, and every pixel of it read back as nodata; --overwrite of an earlier output left
    the .MSK (and an .OVR's stale overviews) in place. Now refused as .msk is, and taken
    with the output --overwrite replaces."""
    from .conftest import assert_one_line_error

    image = make_raster("img.tif", np.full((3, 32, 32), 100, np.uint8))
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    out = tmp_path / "out.tif"
    stray = tmp_path / "out.tif.MSK"
    _external_mask(stray, image)
    before = stray.read_bytes()
    result = run_cli("predict", model, image, "-o", out)
    assert_one_line_error(result, "out.tif.MSK", "sidecar is in the way")
    assert not out.exists() and stray.read_bytes() == before
    stray.unlink()
    assert run_cli("predict", model, image, "-o", out).exit_code == 0
    _external_mask(stray, image)
    (tmp_path / "out.tif.OVR").write_bytes(b"stale overviews")
    assert run_cli("predict", model, image, "-o", out, "--overwrite").exit_code == 0
    assert not stray.exists() and not (tmp_path / "out.tif.OVR").exists()
    with rasterio.open(out) as written:
        assert written.files == [str(out)]
        assert not written.read(1, masked=True).mask.any()


def test_a_full_temporary_folder_fails_vectorize_csv_naming_the_csv(
        run_cli, make_raster, tmp_path, monkeypatch):
    """vectorize -o x.csv polygonizes each raster into a GeoPackage in the temporary folder
    first: a full TMPDIR (a small tmpfs /tmp) failed it with a line naming
    /tmp/geotile-xxxx/polygons.gpkg and advising "choose another output". Now the line
    names the CSV and the temporary folder that is full."""
    import tempfile

    from .conftest import assert_one_line_error

    rng = np.random.default_rng(0)
    classes = make_raster("cls.tif", (rng.random((1, 200, 200)) > 0.6).astype(np.uint8))
    out = tmp_path / "out" / "x.csv"
    with _tiny_disk(tmp_path, "16k") as disk:
        monkeypatch.setattr(tempfile, "tempdir", str(disk))
        result = run_cli("vectorize", classes, "-o", out)
        assert_one_line_error(result, f"{out}:", str(disk))
        assert "polygons.gpkg" not in result.stderr
        assert list(disk.iterdir()) == [] and not out.exists()


def two_runs_outputs(run_cli, make_raster, tmp_path, command):
    """Three images, this run's source (a model, labels) and another run's outputs of other
    pixels: (args of this run, its output folder, the other run's folder)."""
    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import UTM_CRS, UTM_ORIGIN
    from .onnx_models import pointwise_model

    images = [make_raster(f"t{i}.tif", np.full((3, 16, 16), 50 * i, np.uint8))
              for i in range(3)]
    x0, y0 = UTM_ORIGIN
    labels, more = tmp_path / "labels.gpkg", tmp_path / "more.gpkg"
    gpd.GeoDataFrame(geometry=[box(x0 + 1, y0 - 5, x0 + 5, y0 - 1)], crs=UTM_CRS).to_file(labels)
    gpd.GeoDataFrame(geometry=[box(x0, y0 - 8, x0 + 8, y0)], crs=UTM_CRS).to_file(more)
    source, others = ([pointwise_model(tmp_path / "m.onnx", activation="sigmoid")],
                      [pointwise_model(tmp_path / "m2.onnx", activation="sigmoid", seed=5)]) \
        if command == "predict" else ([labels], [more])
    out, other = tmp_path / "out", tmp_path / "other"
    assert run_cli(command, *source, *images, "-o", out).exit_code == 0
    assert run_cli(command, *others, *images, "-o", other).exit_code == 0
    for i in range(3):
        assert (other / f"t{i}.tif").read_bytes() != (out / f"t{i}.tif").read_bytes()
    return (command, *source, *images, "-o", out, "--overwrite"), out, other


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_an_overwrite_run_whose_outputs_another_run_replaces_meanwhile_fails(
        run_cli, make_raster, tmp_path, monkeypatch, command):
    """Two `predict -o out/ --overwrite` runs (other models) started at once into one
    folder both exited 0 and left a mix of their outputs (10 of one model's, 2 of the
    other's, with 12 tiles). Now an --overwrite run refuses to replace an output that
    another process wrote since the run began: it fails, and leaves that one as it is."""
    import shutil

    from geotile import output_files

    from .conftest import assert_one_line_error

    args, out, other = two_runs_outputs(run_cli, make_raster, tmp_path, command)
    theirs = (other / "t1.tif").read_bytes()  # another run's whole output (other pixels)
    assert theirs != (out / "t1.tif").read_bytes()
    real_publish, raced = output_files.publish, []

    def another_run_writes_t1(tmp, final, overwrite):
        if not raced:  # as this run publishes its first output, the other one writes t1
            raced.append(final)
            shutil.copyfile(other / "t1.tif", out / ".t1.other.tif")
            os.replace(out / ".t1.other.tif", out / "t1.tif")
        return real_publish(tmp, final, overwrite)

    monkeypatch.setattr(output_files, "publish", another_run_writes_t1)
    result = run_cli(*args)
    assert_one_line_error(result, f"{out / 't1.tif'}:", "another")
    assert (out / "t1.tif").read_bytes() == theirs


def test_an_overwrite_run_whose_written_output_another_run_replaces_fails(
        run_cli, make_raster, tmp_path, monkeypatch):
    """A second `predict --overwrite` run into the same folder that starts once the first
    wrote t0 (so that it finds t0 as the first left it) replaced t0 and failed at t1; the
    first went on and exited 0 with another model's t0 among its outputs. Now a run
    checks at its end that the outputs it wrote are still its own."""
    import shutil

    from geotile import output_files

    from .conftest import assert_one_line_error

    images = [make_raster(f"t{i}.tif", np.full((3, 16, 16), 50 * i, np.uint8))
              for i in range(3)]
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    out, other = tmp_path / "out", tmp_path / "other"
    assert run_cli("predict", pointwise_model(tmp_path / "m2.onnx", activation="sigmoid",
                                              seed=5), *images, "-o", other).exit_code == 0
    real_publish, published = output_files.publish, []

    def another_run_replaces_t0(tmp, final, overwrite):
        if len(published) == 1:  # t0 is in place: the other run replaces it
            shutil.copyfile(other / "t0.tif", out / ".t0.other.tif")
            os.replace(out / ".t0.other.tif", out / "t0.tif")
        published.append(final)
        return real_publish(tmp, final, overwrite)

    monkeypatch.setattr(output_files, "publish", another_run_replaces_t0)
    result = run_cli("predict", model, *images, "-o", out, "--overwrite")
    assert_one_line_error(result, f"{out / 't0.tif'}:", "another")
    assert (out / "t0.tif").read_bytes() == (other / "t0.tif").read_bytes()


def label_raster_of_two_tiles(make_raster) -> tuple:
    """labels.tif (class 1 under a.tif, classes 1 and 2 under b.tif, 8 px east of it) and
    the two 16 px tiles: make-masks learns b.tif's class 2 after writing a.tif's mask."""
    from rasterio.transform import from_origin

    x0, y0 = UTM_ORIGIN
    labels = np.zeros((16, 32), np.uint8)
    labels[2:6, 2:6], labels[2:6, 20:24] = 1, 2
    label = make_raster("labels.tif", labels)
    a = make_raster("a.tif", np.full((3, 16, 16), 9, np.uint8))
    b = make_raster("b.tif", np.full((3, 16, 16), 9, np.uint8),
                    transform=from_origin(x0 + 8, y0, 0.5, 0.5))
    return label, a, b


def test_masks_of_a_label_raster_given_its_whole_class_list_are_still_this_runs(
        run_cli, make_raster, tmp_path):
    """make-masks labels.tif a.tif b.tif -o out/ (class 1 under a.tif, 1 and 2 under b.tif)
    rewrites a.tif's class list in place once b.tif's is known: that change of its own was
    taken for another process's ('out/a.tif: another process ... replaced it'), exit 1,
    though both masks were right. Now exit 0, each mask naming all three classes."""
    label, a, b = label_raster_of_two_tiles(make_raster)
    out = tmp_path / "out"
    for extra in ((), ("--overwrite",)):
        result = run_cli("make-masks", label, a, b, "-o", out, *extra)
        assert result.exit_code == 0, result.output
        names = []
        for name, (row, col), value in (("a.tif", (3, 3), 1), ("b.tif", (3, 5), 2)):
            with rasterio.open(out / name) as src:
                names.append(json.loads(src.tags()["GEOTILE_CLASS_NAMES"]))
                assert int(src.read(1)[row, col]) == value
        assert names[0] == names[1] and len(names[0]) == 3


def test_an_output_replaced_before_the_runs_own_change_in_place_is_still_refused(tmp_path):
    """changed_in_place re-notes only an output that was still this run's: one another
    process replaced before the run rewrote its tags still fails the run at its end."""
    from geotile.output_files import changed_in_place, check_outputs_kept, outputs_as_found

    final = tmp_path / "m.tif"
    with outputs_as_found([final]):
        with atomic_output(final, overwrite=True) as tmp:
            _geotiff(tmp, size=32)
        with changed_in_place(final), rasterio.open(final, "r+") as dst:
            dst.update_tags(NOTE="ours")
        check_outputs_kept()
        _geotiff(tmp_path / "theirs.tif", size=48)
        os.replace(tmp_path / "theirs.tif", final)
        with changed_in_place(final), rasterio.open(final, "r+") as dst:
            dst.update_tags(NOTE="ours again")
        with pytest.raises(OutputExistsError, match=r"m\.tif: another process"):
            check_outputs_kept()


def test_a_cluster_tasks_output_is_judged_by_its_file_not_the_device_number_it_is_seen_under(
        tmp_path, monkeypatch):
    """A dask worker on another machine sees the shared output folder under another device
    number: its output, noted by the caller when the run began, is the same file there (it
    is replaced, and the caller keeps it as this run's); one another process wrote since
    is refused by the worker."""
    from geotile import errors
    from geotile.output_files import (
        check_outputs_kept,
        note_task_output,
        noted_output,
        outputs_as_found,
        task_output,
    )

    final, theirs = _geotiff(tmp_path / "m.tif", size=32), tmp_path / "theirs.tif"
    here = errors.file_identity

    def on_the_worker(path):  # the same files, under device 99
        found = here(path)
        return None if found is None else (99, *found[1:])

    with outputs_as_found([final]):
        noted = noted_output(final)
        with monkeypatch.context() as worker:
            worker.setattr(errors, "file_identity", on_the_worker)
            with task_output(final, noted) as told, \
                    atomic_output(final, overwrite=True) as tmp:
                _geotiff(tmp, size=48)
        note_task_output(final, told["written"])
        check_outputs_kept()  # the task's output, as it left it
        with rasterio.open(final) as src:
            assert src.width == 48
        os.replace(_geotiff(theirs, size=16), final)  # another run, after the task
        with pytest.raises(OutputExistsError, match=r"m\.tif: another process .* after"):
            check_outputs_kept()
        with task_output(final, noted_output(final)), pytest.raises(
                OutputExistsError, match=r"m\.tif: another process"), \
                atomic_output(final, overwrite=True) as tmp:
            _geotiff(tmp, size=64)
        with rasterio.open(final) as src:
            assert src.width == 16  # left as the other run wrote it


def test_a_cluster_tasks_output_on_a_mount_that_numbers_files_itself_is_the_same_file(
        tmp_path, monkeypatch):
    """A worker on another machine whose mount of the shared folder numbers files itself
    (a FUSE mount of a bucket, gVisor: inode 1000 more here): the caller's note of an
    --overwrite output and what the worker wrote are the same files there. Both were
    refused (exit 1 on every output); now device and inode are compared only on the
    machine that read them, so the run keeps its outputs, the class list the caller
    rewrites included, and one another process replaced is still refused on both sides."""
    from geotile import errors, output_files
    from geotile.output_files import (
        changed_in_place,
        check_outputs_kept,
        note_task_output,
        noted_output,
        outputs_as_found,
        task_output,
    )

    final, theirs = _geotiff(tmp_path / "m.tif", size=32), tmp_path / "theirs.tif"
    here = errors.file_identity

    def on_the_worker(path):  # the same files, numbered by the worker's own mount
        found = here(path)
        return None if found is None else (99, found[1] + 1000, *found[2:])

    @contextlib.contextmanager
    def worker():
        with monkeypatch.context() as patched:
            patched.setattr(errors, "file_identity", on_the_worker)
            patched.setattr(output_files, "this_machine", lambda: "worker-host")
            yield

    with outputs_as_found([final]):
        noted = noted_output(final)
        with worker(), task_output(final, noted) as told, \
                atomic_output(final, overwrite=True) as tmp:
            _geotiff(tmp, size=48)
        note_task_output(final, told["written"])
        check_outputs_kept()  # the task's output, as it left it
        with changed_in_place(final), rasterio.open(final, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES='["a", "b"]')  # the caller's own change
        check_outputs_kept()
        with rasterio.open(final) as src:
            assert src.width == 48 and src.tags()["GEOTILE_CLASS_NAMES"] == '["a", "b"]'
        os.replace(_geotiff(theirs, size=16), final)  # another run, after the task
        with pytest.raises(OutputExistsError, match=r"m\.tif: another process .* after"):
            check_outputs_kept()
        with worker(), task_output(final, noted_output(final)), pytest.raises(
                OutputExistsError, match=r"m\.tif: another process"), \
                atomic_output(final, overwrite=True) as tmp:
            _geotiff(tmp, size=64)
        with rasterio.open(final) as src:
            assert src.width == 16  # left as the other run wrote it


@pytest.mark.parametrize("theirs", ["run-a", "run-b", "run-a cut"])
def test_an_output_replaced_after_the_run_by_this_very_output_is_kept(tmp_path, theirs):
    """A killed run's task that finished late, or a --resume started twice, replaced an
    output after this run wrote it, complete with this run's completion tag: the run ends
    well, as when it appears before the move (above); another tag, or one cut short after
    its header, is still another process's."""
    from geotile.output_files import check_outputs_kept, outputs_as_found

    final, late = tmp_path / "out.tif", tmp_path / "late.tif"
    with outputs_as_found([final]):
        with atomic_output(final, overwrite=True,
                           written_meanwhile=completed_as("run-a")) as tmp:
            _geotiff(tmp)
            with rasterio.open(tmp, "r+") as dst:
                dst.update_tags(GEOTILE_COMPLETE="run-a")
        _geotiff(late, size=64)
        with rasterio.open(late, "r+") as dst:
            dst.update_tags(GEOTILE_COMPLETE=theirs.split()[0])
        if theirs.endswith("cut"):
            os.truncate(late, os.path.getsize(late) - 100)
        os.replace(late, final)
        with pytest.raises(OutputExistsError, match=r"out\.tif: another process .* after") \
                if theirs != "run-a" else contextlib.nullcontext():
            check_outputs_kept()
