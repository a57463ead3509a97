"""Bands polygonized in forked workers give exactly what one process gives."""

from __future__ import annotations

import os
import sys
import threading

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geotile import band_workers
from geotile.band_workers import run_jobs, worker_count
from geotile.errors import GeotileError, InputError
from geotile.vectorize import VectorizeOptions, vectorize_polygons

from .conftest import UTM_ORIGIN

X0, Y0 = UTM_ORIGIN


def _needs_fork():
    if worker_count(4, 2) == 0:
        pytest.skip(f"no fork here ({sys.platform}, threads: {threading.enumerate()})")


def _pid(_job):
    return os.getpid()


def _fails_on_three(job):
    if job == 3:
        raise InputError(f"job {job}: unreadable")
    return job * 10


def test_jobs_run_in_other_processes_in_order():
    _needs_fork()
    with run_jobs(_pid, list(range(6)), workers=2) as results:
        pids = list(results)
    assert os.getpid() not in pids and len(set(pids)) <= 2
    with run_jobs(abs, [-3, 2, -1, 5], workers=2) as results:
        assert list(results) == [3, 2, 1, 5]


def test_an_error_in_a_worker_is_raised_with_its_message():
    _needs_fork()
    with pytest.raises(InputError, match="job 3: unreadable"), \
            run_jobs(_fails_on_three, list(range(6)), workers=2) as results:
        list(results)


def test_no_fork_with_one_job_one_cpu_or_another_thread(monkeypatch):
    assert worker_count(1, 4) == 0 and worker_count(5, 1) == 0
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert worker_count(5, 4) == 0  # a fork would copy none of that thread's locks
        with run_jobs(_pid, [1, 2], workers=2) as results:
            assert list(results) == [os.getpid()] * 2
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(band_workers.sys, "platform", "darwin")
    assert worker_count(5, 4) == 0


def test_workers_write_what_one_process_writes(make_raster, tmp_path):
    _needs_fork()
    rng = np.random.default_rng(5)
    ids = np.zeros((200, 120), np.uint8)
    for _ in range(60):  # rectangles of 3 classes, many cut by the 16-row band seams
        r, c = rng.integers(0, 190), rng.integers(0, 110)
        ids[r : r + rng.integers(3, 30), c : c + rng.integers(3, 12)] = rng.integers(1, 4)
    path = make_raster("c.tif", ids, transform=from_origin(X0, Y0, 0.5, 0.5))
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class",
                        GEOTILE_CLASS_NAMES='["background", "a", "b", "c"]')
    frames = {}
    for workers in (1, 3):
        out = tmp_path / f"w{workers}.gpkg"
        vectorize_polygons([path], out, options=VectorizeOptions(crs="source", band_rows=16,
                                                                workers=workers))
        frames[workers] = gpd.read_file(out)
    one, many = frames[1], frames[3]
    assert len(one) > 30 and set(one["class"]) == {"a", "b", "c"}
    assert list(one.geometry.to_wkb()) == list(many.geometry.to_wkb())
    assert one.drop(columns="geometry").equals(many.drop(columns="geometry"))


def test_instances_of_many_rasters_in_workers_equal_one_process(make_raster):
    _needs_fork()
    import shapely

    from geotile.instances import instance_frame

    from .test_instances import normalized, write_probabilities

    # five houses, two of them across the edges between the three rasters (x = 20, 40 m)
    houses = [shapely.box(X0 + 8 + 10 * i, Y0 - 12, X0 + 14 + 10 * i, Y0 - 4) for i in range(5)]
    paths = [write_probabilities(make_raster, f"{i}.tif", houses, (40, 40),
                                 from_origin(X0 + 20 * i, Y0, 0.5, 0.5)) for i in range(3)]
    one = instance_frame(paths, workers=1)
    many = instance_frame(paths, workers=3)
    assert normalized(one.geometry) == normalized(houses)
    assert set(one["source"]) == {"0.tif", "1.tif", "2.tif"}
    assert list(one.geometry.to_wkb()) == list(many.geometry.to_wkb())
    assert one.drop(columns="geometry").equals(many.drop(columns="geometry"))


def _dies(job):
    if job == 2:
        os._exit(9)  # as the kernel's OOM killer would end it
    return job


def test_a_worker_that_dies_is_one_clear_error():
    _needs_fork()
    from geotile.errors import GeotileError

    with pytest.raises(GeotileError, match=r"a worker process died .*--workers 1"), \
            run_jobs(_dies, list(range(5)), workers=2) as results:
        list(results)


def test_cli_workers_option_gives_the_same_polygons(run_cli, make_raster, tmp_path):
    ids = np.zeros((80, 40), np.uint8)
    ids[5:70, 4:12] = 1
    ids[30:50, 20:36] = 2
    path = make_raster("c.tif", ids, transform=from_origin(X0, Y0, 1, 1))
    counts = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.gpkg"
        result = run_cli("vectorize", path, "-o", out, "--crs", "source", "--workers", workers)
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(out)
        counts.append((len(frame), round(frame.area.sum(), 6)))
    assert counts == [(2, 65 * 8 + 20 * 16)] * 2
    bad = run_cli("vectorize", path, "-o", tmp_path / "z.gpkg", "--workers", "0")
    assert bad.exit_code == 2 and "--workers" in bad.output


def test_a_damaged_band_read_in_a_worker_is_one_line_and_nothing_written(run_cli, tmp_path):
    """Hostile input: a tile in the middle of the file is garbage. The worker that reads it
    fails; the command names the file in one line, exits 1 and writes no output."""
    _needs_fork()
    from tests.conftest import assert_one_line_error

    ids = np.zeros((128, 64), np.uint8)
    ids[10:120:8, 4:60] = 1
    path = tmp_path / "c.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=128, count=1,
                       dtype="uint8", crs="EPSG:32633", transform=from_origin(X0, Y0, 1, 1),
                       tiled=True, blockxsize=16, blockysize=16, compress="deflate") as dst:
        dst.write(ids, 1)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_4", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_1_4", "TIFF", bidx=1))
    with open(path, "r+b") as f:  # a middle tile: the first/last-block check passes it
        f.seek(offset)
        f.write(b"\xff" * size)
    out = tmp_path / "v.gpkg"
    from geotile.vectorize import vectorize_polygons

    with pytest.raises(InputError, match=r"c\.tif: pixel data cannot be read"):
        vectorize_polygons([path], out, options=VectorizeOptions(band_rows=16, workers=2))
    assert not out.exists()
    result = run_cli("vectorize", path, "-o", out, "--workers", "2")
    assert_one_line_error(result, "c.tif")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["c.tif"]


class _NeedsTwo(Exception):
    def __init__(self, a, b):  # pickled with args (msg,) only: fails to unpickle
        super().__init__(f"{a}/{b}")


def _fails_chained(job):
    try:
        raise _NeedsTwo("gdal", "said no")
    except _NeedsTwo as gdal:
        raise InputError(f"job {job}: pixel data cannot be read") from gdal


def _fails_unpicklable(job):
    raise ValueError(f"job {job}", threading.Lock())  # a lock never pickles


def test_an_error_travels_back_without_its_chain():
    """An error from a worker loses its cause and context (a chained GDAL error can fail to
    unpickle in the parent, as with dask's tblib pickling, and break the pool); one that
    cannot travel at all comes back as a RuntimeError with its type and message."""
    import pickle

    from geotile.band_workers import _in_worker

    with pytest.raises(InputError, match="job 7: pixel data cannot be read") as caught:
        _in_worker(_fails_chained, 7)
    error = caught.value
    assert error.__cause__ is None and error.__context__ is None
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with pytest.raises(RuntimeError, match=r"ValueError: .*job 3"):
        _in_worker(_fails_unpicklable, 3)


def _slow_job(job):
    """Says it started, then finishes (its marker file) only after 30 s."""
    import time
    from pathlib import Path

    folder, number = job
    (Path(folder) / f"started{number}").touch()
    time.sleep(30)
    (Path(folder) / f"finished{number}").touch()
    return number


def test_ctrl_c_stops_the_running_jobs_instead_of_waiting_for_them(tmp_path):
    """Each worker's job is a share of the raster: Ctrl-C ends the workers (which hold no
    output) rather than waiting for their running jobs to finish."""
    _needs_fork()
    import time

    with pytest.raises(KeyboardInterrupt), \
            run_jobs(_slow_job, [(str(tmp_path), n) for n in range(2)], workers=2):
        while len(list(tmp_path.glob("started*"))) < 2:
            time.sleep(0.01)
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["started0", "started1"]


def test_ctrl_c_while_waiting_for_a_result_leaves_no_traceback(tmp_path, monkeypatch):
    """Ctrl-C while the parent waits for a worker's result (most of a vectorize run): the pool
    stops without its management thread's "InvalidStateError: CANCELLED" traceback on stderr
    (the futures the interrupted wait cancelled, then failed as the workers were stopped)."""
    _needs_fork()
    import signal
    import time

    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)

    def ctrl_c(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt), \
                run_jobs(_slow_job, [(str(tmp_path), n) for n in range(8)], workers=2) \
                as results:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            next(results)
        time.sleep(0.5)  # the management thread's last words, if any
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [f.exc_value for f in failures] == []
    assert not list(tmp_path.glob("finished*"))


def test_vectorize_rasters_interrupted_raises_interrupted(make_raster, tmp_path, monkeypatch):
    from geotile import vectorize as vectorize_module
    from geotile.errors import Interrupted
    from geotile.vectorize_modes import vectorize_rasters

    ids = np.zeros((40, 40), np.uint8)
    ids[5:20, 5:20] = 1
    path = make_raster("c.tif", ids, transform=from_origin(X0, Y0, 1, 1))

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vectorize_module, "merge_edge_regions", ctrl_c)
    out = tmp_path / "v.gpkg"
    with pytest.raises(Interrupted, match=r"v\.gpkg: interrupted"):
        vectorize_rasters(path, out)
    assert not out.exists()


def test_ctrl_c_during_vectorize_with_workers_is_one_line_and_no_output(tmp_path):
    """SIGINT while forked workers polygonize: exit 1, one line, no output, no hang."""
    _needs_fork()
    import signal
    import subprocess
    import time

    rng = np.random.default_rng(1)
    path = tmp_path / "p.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2000, height=2000, count=1,
                       dtype="float32", crs="EPSG:32633", transform=from_origin(X0, Y0, 1, 1),
                       tiled=True) as dst:
        dst.write((rng.random((2000, 2000)) > 0.7).astype(np.float32), 1)
    out = tmp_path / "v.gpkg"
    process = subprocess.Popen([sys.executable, "-m", "geotile", "vectorize", str(path), "-o",
                                str(out), "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children = f"/proc/{process.pid}/task/{process.pid}/children"
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        with open(children) as f:
            if len(f.read().split()) >= 2:
                break
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.skip("vectorize ended before it could be interrupted")
    time.sleep(0.3)
    if process.poll() is not None:  # an idle machine finished within the 0.3 s (exit 0,
        pytest.skip("vectorize ended before it could be interrupted")  # nothing sent)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGINT, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.tif"]


_KILLED_PARENT = """
import sys, time
from pathlib import Path
from geotile.band_workers import run_jobs

def job(number):
    time.sleep(60)
    return number

with run_jobs(job, list(range(4)), workers=2) as results:
    Path(sys.argv[1]).touch()
    list(results)
"""


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL of the parent (the OOM killer, kill -9) while forked workers polygonize: the
    workers end with it instead of waiting forever for jobs from a pipe nobody writes to
    (holding a fork of its memory and its stdout, so that `geotile ... | tee` never ends)."""
    _needs_fork()
    import signal
    import subprocess
    import time

    script = tmp_path / "parent.py"
    script.write_text(_KILLED_PARENT)
    started = tmp_path / "started"
    from pathlib import Path

    import geotile

    env = {**os.environ, "PYTHONPATH": str(Path(geotile.__file__).parents[1])}
    process = subprocess.Popen([sys.executable, str(script), str(started)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children = f"/proc/{process.pid}/task/{process.pid}/children"
        workers: list[int] = []
        while time.monotonic() < deadline and process.poll() is None:
            with open(children) as f:
                workers = [int(pid) for pid in f.read().split()]
            if started.exists() and len(workers) >= 2:
                break
            time.sleep(0.02)
        assert len(workers) >= 2, "the workers did not start"
        time.sleep(0.5)  # past their start-up: running their jobs
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.05)
        assert [pid for pid in workers if _alive(pid)] == []
    finally:
        for pid in workers if "workers" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_STOPPED_MID_SEND = """
import multiprocessing.connection, os, sys, time
from pathlib import Path
from geotile.band_workers import run_jobs

sending = Path(sys.argv[1])

def half_sent(job):
    # in the worker: its result goes half into the pipe, then the worker stalls there, as
    # one does while the parent reads a band's polygons (megabytes) when Ctrl-C comes
    def send(self, buf, write=os.write):
        write(self._handle, bytes(buf[:len(buf) // 2]))
        sending.touch()
        time.sleep(600)
    multiprocessing.connection.Connection._send = send
    return b"x" * 4_000_000

try:
    with run_jobs(half_sent, [0, 1], workers=2) as results:
        while not sending.exists():
            time.sleep(0.01)
        raise KeyboardInterrupt
except KeyboardInterrupt:
    print("stopped")
"""


def test_ctrl_c_while_a_worker_sends_its_result_stops_at_once(tmp_path):
    """Ctrl-C (or SIGTERM, or an error) while a worker was sending its band's polygons to
    vectorize hung forever (1 run in ~10 of `geotile vectorize` of a 1,500 px raster: the
    pool's reader waited for the rest of a result from a worker stopped mid-send, the pipe
    held open by the parent). The parent's end now closes once its workers are gone."""
    _needs_fork()
    import subprocess
    from pathlib import Path

    import geotile

    script = tmp_path / "parent.py"
    script.write_text(_STOPPED_MID_SEND)
    env = {**os.environ, "PYTHONPATH": str(Path(geotile.__file__).parents[1])}
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "sending")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        pytest.fail("run_jobs hung after Ctrl-C while a worker sent its result")
    assert (process.returncode, out.strip()) == (0, "stopped"), err


_SIGNAL_BEFORE_SET_UP = """
import os, signal, sys
from geotile import band_workers

def stop(signum, frame):  # as the command's handler: SIGTERM ends it like Ctrl-C
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, stop)
set_up = band_workers._quiet_worker

def signalled_first(*args):
    # the signal reaches the new worker before its set-up, as a Ctrl-C sent to the whole
    # process group (a terminal's) does when it comes just as the workers are forked
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    set_up(*args)

band_workers._quiet_worker = signalled_first
try:
    with band_workers.run_jobs(abs, [-1, -2, -3], workers=2) as results:
        print(list(results))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def _signal_before_set_up(tmp_path, name):
    import subprocess
    from pathlib import Path

    import geotile

    script = tmp_path / "parent.py"
    script.write_text(_SIGNAL_BEFORE_SET_UP)
    env = {**os.environ, "PYTHONPATH": str(Path(geotile.__file__).parents[1])}
    return subprocess.run([sys.executable, str(script), name], env=env, capture_output=True,
                          text=True, timeout=120)


def test_ctrl_c_as_workers_start_is_not_theirs(tmp_path):
    """Ctrl-C reaching a worker between its fork and its set-up (which ignores SIGINT: the
    parent handles it) raised KeyboardInterrupt in the worker: 'Exception in initializer'
    with a traceback on stderr, then 'a worker process died'. The fork happens with SIGINT
    held back; the worker takes it only once it ignores it, and runs its jobs."""
    _needs_fork()
    done = _signal_before_set_up(tmp_path, "SIGINT")
    assert done.stdout.strip() == "[1, 2, 3]", done.stdout + done.stderr
    assert done.stderr == ""


def test_sigterm_as_workers_start_ends_them_without_a_traceback(tmp_path):
    """The parent stopping its workers (SIGTERM) just as they start: a worker still holding
    the command's SIGTERM handler (raises KeyboardInterrupt) printed a traceback. Held back
    until its set-up restores SIGTERM's default, the worker just ends."""
    _needs_fork()
    done = _signal_before_set_up(tmp_path, "SIGTERM")
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, \
        done.stderr
    assert done.stdout.startswith("GeotileError a worker process died"), done.stdout


def _hung_up(job):
    """A job whose worker gets SIGHUP, as a closed terminal sends one to its process group."""
    import signal

    os.kill(os.getpid(), signal.SIGHUP)
    return job * 10


def test_workers_outlive_a_hang_up_the_parent_ignores():
    """`nohup geotile vectorize --workers 2 &`: the parent ignores SIGHUP (main() keeps it
    ignored) but each worker restored its default, so the terminal's hang-up killed them and
    the run ended in 'a worker process died (out of memory?)'. A SIGHUP the parent ignores is
    ignored by its workers too; one the parent handles still ends them."""
    import signal

    _needs_fork()
    saved = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with run_jobs(_hung_up, [1, 2, 3], workers=2) as results:
            assert list(results) == [10, 20, 30]
    finally:
        signal.signal(signal.SIGHUP, saved)
    saved = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with pytest.raises(GeotileError, match="a worker process died"), \
                run_jobs(_hung_up, [1, 2, 3], workers=2) as results:
            list(results)
    finally:
        signal.signal(signal.SIGHUP, saved)
