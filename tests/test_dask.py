"""`geotile predict --workers/--scheduler`: images predicted on a dask.distributed cluster."""

from __future__ import annotations

import contextlib
import os
import signal

import numpy as np
import pytest
import rasterio

from .conftest import assert_one_line_error, write_garbled_jpeg
from .onnx_models import pointwise_model, temporal_model
from .test_output_safety import two_runs_outputs

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    import logging

    environ = dict(os.environ)  # dask's nanny sets OMP_NUM_THREADS, __DASK_PARENT_PID here
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster
    os.environ.clear()  # the tests after this module (test_cpus' OMP_NUM_THREADS) see ours
    os.environ.update(environ)


def _images(make_raster, count=4):
    rng = np.random.default_rng(0)
    return [make_raster(f"img{i}.tif", rng.integers(0, 256, (3, 40 + 7 * i, 50), np.uint8))
            for i in range(count)]


def _worker_sessions(cluster) -> dict:
    from geotile import distributed as gd

    with distributed.Client(cluster) as client:
        return client.run(lambda: len(gd._MODELS))


def test_workers_and_scheduler_outputs_match_a_single_process_run(run_cli, make_raster,
                                                                  tmp_path, cluster):
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster)
    args = ("predict", model, *images, "--tile-size", "32", "--dtype", "uint8", "-o")
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    on_workers = run_cli(*args, tmp_path / "workers", "--workers", "2")
    assert on_workers.exit_code == 0, on_workers.output
    on_scheduler = run_cli(*args, tmp_path / "sched", "--scheduler", cluster.scheduler_address)
    assert on_scheduler.exit_code == 0, on_scheduler.output
    for image in images:
        expected = (tmp_path / "single" / image.name).read_bytes()
        assert (tmp_path / "workers" / image.name).read_bytes() == expected
        assert (tmp_path / "sched" / image.name).read_bytes() == expected
    # one line per image, as without dask
    assert sorted(line.split(":")[0] for line in on_scheduler.output.splitlines()) == \
        sorted(str(tmp_path / "sched" / image.name) for image in images)
    # one ONNX Runtime session per worker process, whatever the number of images
    assert all(count <= 1 for count in _worker_sessions(cluster).values())


def test_local_workers_print_nothing_when_dask_s_port_is_taken(run_cli, make_raster, tmp_path):
    """--workers starts its own scheduler: it never competes for dask's dashboard port 8787
    (dask's 'Port 8787 is already in use' warning was printed as a geotile warning)."""
    import socket

    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    with socket.socket() as taken:
        try:
            taken.bind(("", 8787))
            taken.listen()
        except OSError:
            pass  # someone holds it already
        result = run_cli("predict", model, *images, "--tile-size", "32", "-o", tmp_path / "o",
                         "--workers", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr == "", result.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(i.name for i in images)


def test_library_api_returns_summaries_in_order(make_raster, tmp_path, cluster, monkeypatch):
    from geotile import PredictOptions, predict_rasters

    pointwise_model(tmp_path / "m.onnx")
    images = [image.name for image in _images(make_raster, 3)]
    outputs = [f"out{i}.tif" for i in range(3)]
    # relative paths are ours, not the workers' (their working folder differs)
    monkeypatch.chdir(tmp_path)
    summaries = predict_rasters("m.onnx", images, outputs, options=PredictOptions(tile_size=32),
                                scheduler=cluster.scheduler_address)
    # ... made absolute for them, and reported as given (as without a cluster)
    assert [s["output"] for s in summaries] == outputs
    assert all((tmp_path / o).is_file() for o in outputs)


def _live_dask_locks() -> int:
    """The dask Locks (Semaphores) alive in this worker: each that still refreshes its
    leases is held by the worker's event loop for as long as the worker runs."""
    import gc

    gc.collect()
    return sum(isinstance(o, distributed.Semaphore) for o in gc.get_objects())


def test_a_worker_keeps_no_lock_per_image(make_raster, tmp_path, cluster):
    """A worker outlives many runs of many images: the lock each image takes to publish its
    output is let go, not kept alive (with a timer firing) for the worker's whole life."""
    from geotile import PredictOptions, predict_rasters

    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    options = PredictOptions(tile_size=32)

    def run(count, folder):
        predict_rasters(model, images * (count // 2),
                        [tmp_path / folder / f"{i}.tif" for i in range(count)],
                        options=options, scheduler=cluster.scheduler_address)
        with distributed.Client(cluster) as client:
            return sum(client.run(_live_dask_locks).values())

    after_few = run(4, "few")
    assert run(24, "many") == after_few


def test_error_in_one_image_is_one_line(run_cli, make_raster, tmp_path, cluster):
    """A damaged image found by a worker: one line (its GDAL cause does not travel back as
    a traceback), and a warning from a worker is one 'Warning:' line too."""
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 3)
    bad = make_raster("cut.tif", np.random.default_rng(0).integers(0, 255, (3, 300, 300),
                                                                    np.uint8))
    bad.write_bytes(bad.read_bytes()[:20000])  # a truncated download
    result = run_cli("predict", model, bad, *images, "--tile-size", "32", "-o", tmp_path / "out",
                     "--scheduler", cluster.scheduler_address)
    assert_one_line_error(result, "cut.tif", "damaged or truncated")
    plain = make_raster("plain.tif", np.zeros((3, 20, 20), np.uint8), crs=None)
    result = run_cli("predict", model, plain, images[0], "--tile-size", "32", "-o",
                     tmp_path / "warned", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Warning: plain.tif"), result.stderr
    # no output for the bad image, no temporary file left: only complete outputs
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written <= {image.name for image in images}
    for name in written:
        with rasterio.open(tmp_path / "out" / name) as dst, \
                rasterio.open(tmp_path / name) as src:
            assert dst.read().shape == (1, *src.shape)


def test_an_error_names_the_outputs_finished_and_kept(run_cli, make_raster, tmp_path,
                                                      cluster):
    """A batch on workers that failed said only what failed, while the outputs finished
    before it were written and kept (which ones varies with dask's order); one process
    prints each as it finishes. The error names them: exactly the files in the folder."""
    import re

    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 3)
    bad = make_raster("cut.tif", np.random.default_rng(0).integers(0, 255, (3, 300, 300),
                                                                    np.uint8))
    bad.write_bytes(bad.read_bytes()[:20000])
    out = tmp_path / "out"
    result = run_cli("predict", model, *images, bad, "--tile-size", "32", "-o", out,
                     "--scheduler", cluster.scheduler_address)
    assert_one_line_error(result, "cut.tif", "damaged or truncated", "kept: ")
    written = sorted(p.name for p in out.iterdir())
    assert written and set(written) <= {image.name for image in images}
    named = re.search(r"(\d+) output\(s\) were finished and are kept: (.*)\.$",
                      result.stderr.strip())
    assert named, result.stderr
    assert int(named[1]) == len(written)
    assert sorted(named[2].split(", ")) == written


def test_workers_and_scheduler_together_are_refused(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--workers", "2",
                     "--scheduler", "tcp://127.0.0.1:8786")
    assert_one_line_error(result, "--workers", "--scheduler", "not both")
    assert not (tmp_path / "o.tif").exists()


def test_unreachable_or_malformed_scheduler_is_one_line(run_cli, make_raster, tmp_path):
    import dask

    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = run_cli("predict", model, image, "-o", tmp_path / "o.tif",
                         "--scheduler", "tcp://127.0.0.1:1")
    assert_one_line_error(result, "tcp://127.0.0.1:1", "no dask scheduler answers",
                          "dask worker")
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--scheduler", "head")
    assert_one_line_error(result, "--scheduler head", "tcp://host:8786")
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(("address", "fragments"), [
    ("tls://127.0.0.1:8799", ("--scheduler tls://127.0.0.1:8799", "TLS", "tcp://")),
    ("ucx://127.0.0.1:8799", ("--scheduler ucx://127.0.0.1:8799", "UCX", "tcp://")),
    ("tcp://127.0.0.1:99999", ("--scheduler tcp://127.0.0.1:99999", "port 99999",
                               "1-65535")),
    ("tcp://127.0.0.1:0", ("--scheduler tcp://127.0.0.1:0", "port 0", "1-65535")),
])
def test_scheduler_protocols_and_ports_geotile_cannot_use_are_one_line(run_cli, make_raster,
                                                                       tmp_path, address,
                                                                       fragments,
                                                                       monkeypatch):
    """tls:// without certificates and ucx:// ended in a traceback; a port out of range was
    reported as a 30 s timeout. Each is one line, naming the address and the fix; a bad
    port is refused before any connection is tried."""
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    if "tcp://" in address:  # no Client may be made: the port alone is wrong

        def no_client(*args, **kwargs):
            raise AssertionError(f"a connection to {address} was tried")

        monkeypatch.setattr(distributed, "Client", no_client)
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--scheduler", address)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == [tmp_path / "m.onnx", tmp_path / "img.tif"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "m.onnx"]


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_an_address_that_is_not_a_dask_scheduler_is_one_line_not_a_hang(make_raster, tmp_path,
                                                                        answer):
    """--scheduler given the dashboard's port (an HTTP server, silent until it has a whole
    request) hung for ever; one answering bytes that are not dask's was 'cannot connect
    (Unable to allocate 3.07 EiB ...)'. Each is one line naming the address, within the
    connect timeout, nothing written."""
    import socket
    import threading

    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                peer, _ = server.accept()
                accepted.append(peer)  # kept open, as a server waiting for a request
                if answer:
                    peer.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    process = _geotile_process(tmp_path, "predict", model, image, "-o", tmp_path / "o.tif",
                               "--scheduler", address, env={
                                   "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    try:  # a hang guard, not a measure: the bound itself is the test below's
        _, stderr = process.communicate(timeout=60)
    except Exception:
        process.kill()
        process.communicate()
        raise
    finally:
        server.close()
        for peer in accepted:
            peer.close()
    assert process.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert address in lines[0] and "not a dask scheduler" in lines[0], lines[0]
    assert "8786" in lines[0] and "EiB" not in lines[0], lines[0]
    assert not (tmp_path / "o.tif").exists()


def test_a_handshake_later_than_the_connect_timeout_is_given_up(monkeypatch):
    """The scheduler's handshake is waited for within the connect timeout (+1 s), not for
    ever (dask's own read has no limit): one arriving 10 s after a 0.1 s timeout is no
    scheduler's. The loop's timers decide which comes first, whatever the machine's load."""
    import asyncio

    import dask
    import distributed.comm

    from geotile import distributed as gd

    class Comm:
        async def close(self):
            pass

    async def late(address, timeout=None, **kwargs):
        await asyncio.sleep(10)
        return Comm()

    monkeypatch.setattr(distributed.comm, "connect", late)
    with dask.config.set({"distributed.comm.timeouts.connect": "0.1s"}), \
            pytest.raises(gd._NotAScheduler):
        gd._check_handshake("tcp://127.0.0.1:8786")


def test_without_dask_the_options_say_how_to_install_it(run_cli, make_raster, tmp_path,
                                                        monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--workers", "2")
    assert_one_line_error(result, "pip install 'geotile[dask]'")


def test_make_masks_on_workers_matches_a_single_process_run(run_cli, make_raster, tmp_path,
                                                           cluster):
    import json

    from rasterio.transform import from_origin

    # 4 adjacent 30 x 30 m tiles (1 m pixels, UTM 32N) and two classes of footprints
    images = []
    for i in range(4):
        x0, y0 = 500000 + 30 * (i % 2), 5000060 - 30 * (i // 2)
        images.append(make_raster(f"t{i}.tif", np.full((3, 30, 30), 100, np.uint8),
                                  crs="EPSG:32632", transform=from_origin(x0, y0, 1, 1)))
    features = [
        {"type": "Feature", "properties": {"kind": kind},
         "geometry": {"type": "Polygon", "coordinates": [[
             [x, y], [x + 20, y], [x + 20, y + 12], [x, y + 12], [x, y]]]}}
        for kind, x, y in (("house", 500005, 5000040), ("shed", 500025, 5000015),
                           ("house", 500040, 5000045))]
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                  "crs": {"type": "name", "properties": {
                                      "name": "urn:ogc:def:crs:EPSG::32632"}}}))
    args = ("make-masks", labels, *images, "--class-field", "kind",
            "--channels", "footprint,boundary", "-o")
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    on_workers = run_cli(*args, tmp_path / "sched", "--scheduler", cluster.scheduler_address)
    assert on_workers.exit_code == 0, on_workers.output
    assert on_workers.output == single.output.replace("single", "sched")
    burnt = 0
    for image in images:
        expected = (tmp_path / "single" / image.name).read_bytes()
        assert (tmp_path / "sched" / image.name).read_bytes() == expected
        with rasterio.open(tmp_path / "sched" / image.name) as dst:
            burnt += int((dst.read(1) > 0).sum())
    assert burnt > 0


def test_a_tile_that_does_not_fit_is_found_before_any_work(run_cli, make_raster, tmp_path,
                                                           cluster):
    """Every image's bands and header are checked before the first is predicted, as in one
    process: one bad tile leaves no outputs, whichever the mode."""
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 3)
    one_band = make_raster("grey.tif", np.zeros((1, 30, 30), np.uint8))
    garbage = tmp_path / "text.tif"
    garbage.write_text("not a raster\n" * 50)
    for bad, fragments in ((one_band, ("grey.tif", "3 channels")), (garbage, ("text.tif",))):
        for mode in (("--workers", "2"), ("--scheduler", cluster.scheduler_address)):
            out = tmp_path / f"out-{bad.stem}-{mode[0][2:]}"
            single = run_cli("predict", model, *images, bad, "--tile-size", "32", "-o",
                             tmp_path / "single")
            result = run_cli("predict", model, *images, bad, "--tile-size", "32", "-o", out,
                             *mode)
            assert_one_line_error(result, *fragments)
            assert result.stderr == single.stderr
            assert not out.exists() or list(out.iterdir()) == []
            assert not (tmp_path / "single").exists()


def test_make_masks_refuses_an_image_without_crs_before_any_mask(run_cli, make_raster,
                                                                  tmp_path, cluster):
    """As in one process, labels that cannot be placed on one image of many are refused
    before any mask is written, not after the others' masks (dask's order)."""
    import json

    from rasterio.transform import from_origin

    images = [make_raster(f"t{i}.tif", np.full((3, 30, 30), 100, np.uint8), crs="EPSG:32632",
                          transform=from_origin(500000 + 30 * i, 5000060, 1, 1))
              for i in range(3)]
    images.append(make_raster("z_nocrs.tif", np.full((3, 30, 30), 100, np.uint8), crs=None,
                              transform=from_origin(0, 30, 1, 1)))
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
            [x, 5000040], [x + 15, 5000040], [x + 15, 5000050], [x, 5000050], [x, 5000040]]]}}
        for x in (500005, 500035, 500065)],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32632"}}}))
    single = run_cli("make-masks", labels, *images, "-o", tmp_path / "single")
    assert_one_line_error(single, "z_nocrs.tif", "no CRS")
    assert not (tmp_path / "single").exists()
    for mode in (("--workers", "2"), ("--scheduler", cluster.scheduler_address)):
        out = tmp_path / f"out-{mode[0][2:]}"
        result = run_cli("make-masks", labels, *images, "-o", out, *mode)
        assert_one_line_error(result, "z_nocrs.tif", "no CRS")
        assert result.stderr == single.stderr
        assert not out.exists() or list(out.iterdir()) == []


def _slow_reads(client, seconds: float) -> None:
    """Make every worker of ``client`` sleep ``seconds`` per block read (0: restore)."""

    def patch(seconds):
        import time

        from geotile import raster

        original = raster.__dict__.setdefault("_unpatched_read_block", raster.read_block)

        def slow(*args, **kwargs):
            time.sleep(seconds)
            return original(*args, **kwargs)

        raster.read_block = slow if seconds else original

    client.run(patch, seconds)


def _geotile_process(tmp_path, *args, env=None):
    """``geotile ARGS`` as a process of its own (signals reach it as from a terminal);
    ``env``: variables added to its environment."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "geotile", *map(str, args)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _when_writing(folder, process, timeout=60.0) -> None:
    """Wait until ``process`` has a temporary output in ``folder`` (images are running)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        if folder.is_dir() and any(".tmp." in p.name for p in folder.iterdir()):
            return
        time.sleep(0.05)
    raise AssertionError(f"no image started: {process.poll()} {list(folder.iterdir())}")


def _idle(client, timeout=60.0) -> None:
    import time

    end = time.monotonic() + timeout
    while any(client.processing().values()) and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(0.5)


def _three_images(make_raster, tmp_path, seed: int):
    """(a pointwise model, three 96 px random images, an empty output folder)."""
    model = pointwise_model(tmp_path / "m.onnx")
    rng = np.random.default_rng(seed)
    images = [make_raster(f"b{i}.tif", rng.integers(0, 256, (3, 96, 96), np.uint8))
              for i in range(3)]
    out = tmp_path / "out"
    out.mkdir()
    return model, images, out


def test_interrupted_scheduler_run_stops_its_images_and_never_writes_after(
        make_raster, tmp_path, cluster):
    """SIGTERM of `predict --scheduler`: the images running on the cluster stop and write
    nothing, then or later (they had replaced a later run's outputs after geotile had said
    'interrupted'); the outputs of an earlier run stay as they were."""
    import signal

    model, images, out = _three_images(make_raster, tmp_path, seed=1)
    for image in images:  # an earlier run's outputs
        (out / image.name).write_bytes(b"earlier run")
    with distributed.Client(cluster) as client:
        _slow_reads(client, 0.4)
        try:
            process = _geotile_process(tmp_path, "predict", model, *images, "--tile-size", "32",
                                       "--block-size", "64", "-o", out, "--overwrite",
                                       "--scheduler", cluster.scheduler_address)
            _when_writing(out, process)
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == -signal.SIGTERM, stderr
            lines = [line for line in stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), stderr
            assert "stopped" in lines[0] and "nothing" in lines[0], stderr
            _idle(client)  # whatever was running has ended
        finally:
            _slow_reads(client, 0)
    assert sorted(p.name for p in out.iterdir()) == sorted(i.name for i in images)
    assert all((out / i.name).read_bytes() == b"earlier run" for i in images)


@contextlib.contextmanager
def _reaped(process):
    """Kill ``process``'s session at the end if it still runs (a failed assertion, a hang)."""
    try:
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _slow_site(tmp_path, seconds: float) -> str:
    """A PYTHONPATH entry whose sitecustomize makes every process it starts (geotile's
    local dask workers too) sleep ``seconds`` per block read."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import time\n"
        "from geotile import raster\n"
        "_read = raster.read_block\n"
        "def _slow(*args, **kwargs):\n"
        f"    time.sleep({seconds})\n"
        "    return _read(*args, **kwargs)\n"
        "raster.read_block = _slow\n")
    return str(site)


def test_more_workers_than_images_start_one_worker_per_image(run_cli, make_raster, tmp_path,
                                                            monkeypatch):
    """predict --workers 8 of 2 images started 8 worker processes (7.2 s against 2.4 s for
    --workers 2 on 2 cores), each with 1/8 of the memory for the nanny to enforce, so an
    image that fits in 1/2 was killed as 'out of memory'; 2 workers start now."""
    started = []
    local_cluster = distributed.LocalCluster

    def recording(*args, **kwargs):
        started.append(kwargs["n_workers"])
        return local_cluster(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", recording)
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, count=2)
    result = run_cli("predict", model, *images, "--tile-size", "32", "-o", tmp_path / "out",
                     "--workers", "8")
    assert result.exit_code == 0, result.output
    assert started == [2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.tif", "img1.tif"]


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C", "worker SIGKILL", "worker dies again"])
def test_local_workers_leave_no_temporary_files(make_raster, tmp_path, how):
    """SIGTERM of `predict --workers 2`, Ctrl-C (SIGINT to the whole process group, workers
    included) or a worker killed mid-image: the output folder holds what one process would
    leave, complete outputs only, never the running images' temporary files. A worker that
    dies on every try (out of memory) is one line naming the image, not a traceback."""
    import os
    import signal
    import time

    import psutil

    model, images, out = _three_images(make_raster, tmp_path, seed=2)
    (out / ".b0.notgeotiles.tmp.tif").write_bytes(b"someone else's")  # left alone
    (out / ".b0.1234abcd.tmp.tif").write_bytes(b"an earlier run's")  # not this run's
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [_slow_site(tmp_path, 0.4), str(Path(__file__).resolve().parents[1])])}
    if how == "worker dies again":  # as a task that kills every worker it lands on ends
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "geotile", "predict", str(model), *map(str, images),
         "--tile-size", "32", "--block-size", "64", "-o", str(out), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    with _reaped(process):
        end = time.monotonic() + 60
        while not any(p.name.startswith((".b1.", ".b2.")) or
                      (p.name.startswith(".b0.") and p.stat().st_size == 0)
                      for p in out.iterdir()):
            assert time.monotonic() < end and process.poll() is None, process.poll()
            time.sleep(0.05)
        if how == "SIGTERM":
            process.send_signal(signal.SIGTERM)
        elif how == "Ctrl-C":
            os.killpg(process.pid, signal.SIGINT)
        else:
            workers = [p for p in psutil.Process(process.pid).children(recursive=True)
                       if "spawn" in " ".join(p.cmdline())]
            assert workers
            for worker in workers[:1]:
                worker.kill()
        _, stderr = process.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.strip()]
    names = sorted(p.name for p in out.iterdir())
    strays = [".b0.1234abcd.tmp.tif", ".b0.notgeotiles.tmp.tif"]
    if how == "worker dies again":
        assert process.returncode == 1, stderr
        assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
        assert "died" in lines[0] and "fewer" in lines[0], stderr
        assert any(f"b{i}.tif" in lines[0] for i in range(3)), stderr
        assert [n for n in names if n.startswith(".")] == strays, names
    elif how == "worker SIGKILL":  # the image is predicted again elsewhere
        assert process.returncode == 0, stderr
        assert names == [*strays, "b0.tif", "b1.tif", "b2.tif"], names
    else:
        ended_by = signal.SIGTERM if how == "SIGTERM" else signal.SIGINT
        assert process.returncode == -ended_by, stderr
        assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), stderr
        assert [n for n in names if n.startswith(".")] == strays, names
        assert set(names) - set(strays) <= {"b0.tif", "b1.tif", "b2.tif"}
    for name in set(names) - set(strays):
        with rasterio.open(out / name) as dst:
            assert dst.read().shape[1:] == (96, 96)


def test_a_model_replaced_at_the_same_path_is_used_as_it_is_now(run_cli, make_raster, tmp_path,
                                                                 cluster):
    """The workers of a running cluster cache one session per model: a model file replaced
    at the same path (retrained) is loaded again, never the old one's predictions under
    the new one's name (which --resume then kept as complete)."""
    import time

    model = tmp_path / "m.onnx"
    images = _images(make_raster, 2)
    args = ("predict", model, *images, "--tile-size", "32", "--dtype", "uint8", "-o")
    pointwise_model(model, classes=2)
    first = run_cli(*args, tmp_path / "first", "--scheduler", cluster.scheduler_address)
    assert first.exit_code == 0, first.output
    time.sleep(0.01)
    pointwise_model(model, classes=1, seed=5)  # the same name, another model
    second = run_cli(*args, tmp_path / "second", "--scheduler", cluster.scheduler_address)
    assert second.exit_code == 0, second.output
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    for image in images:
        with rasterio.open(tmp_path / "second" / image.name) as dst:
            assert dst.count == 1
        assert (tmp_path / "second" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()
    resumed = run_cli(*args, tmp_path / "first", "--resume", "--scheduler",
                      cluster.scheduler_address)
    assert resumed.exit_code == 0, resumed.output
    assert "skipped" not in resumed.output
    for image in images:
        assert (tmp_path / "first" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()


def test_outputs_the_workers_wrote_where_this_machine_cannot_see_them_are_an_error(
        run_cli, make_raster, tmp_path, cluster):
    """A worker without the output folder's share writes its own copy: reported as written,
    exit 0, before. Each output is looked for here: one line naming it and the fix."""

    def private_outputs(on: bool):
        from pathlib import Path

        from geotile import predict

        original = predict.__dict__.setdefault("_unpatched_predict_raster",
                                               predict.predict_raster)

        def elsewhere(model, image, output, **kwargs):  # a disk only the worker has
            private = Path(f"{output}.private")
            summary = original(model, image, private / Path(output).name, **kwargs)
            return {**summary, "output": str(output)}

        predict.predict_raster = elsewhere if on else original

    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    with distributed.Client(cluster) as client:
        client.run(private_outputs, True)
        try:
            result = run_cli("predict", model, *images, "--tile-size", "32", "-o",
                             tmp_path / "out", "--scheduler", cluster.scheduler_address)
        finally:
            client.run(private_outputs, False)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert_one_line_error(result, str(tmp_path / "out" / "img0.tif"), "not visible",
                          "shared", "2 of 2")
    assert not (tmp_path / "out").exists() or not any(
        p.suffix == ".tif" for p in (tmp_path / "out").iterdir())


def test_an_input_only_this_machine_sees_is_said_to_be_missing_on_the_worker(
        run_cli, make_raster, tmp_path, cluster):
    """'no such file. Check the path.' about a file the user sees: the message now says it
    is the dask worker that does not see it, and what --scheduler needs."""

    def blind(on: bool):
        from geotile import raster

        original = raster.__dict__.setdefault("_unpatched_input_exists", raster.input_exists)
        raster.input_exists = (lambda path: "hidden" not in str(path) and original(path)) \
            if on else original

    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("hidden.tif", np.zeros((3, 20, 20), np.uint8))
    with distributed.Client(cluster) as client:
        client.run(blind, True)
        try:
            result = run_cli("predict", model, image, "-o", tmp_path / "out.tif",
                             "--scheduler", cluster.scheduler_address)
        finally:
            client.run(blind, False)
    assert_one_line_error(result, f"{image}: no such file on dask worker tcp://",
                          "exists here", "shared with every worker")
    assert not (tmp_path / "out.tif").exists()


def test_a_workers_warning_names_its_image(tmp_path, cluster):
    """A warning raised on a worker without the image's name (numpy's, rasterio's, a model
    warning) is shown here naming the image whose task raised it: among many images run at
    once, a bare 'invalid value encountered' says nothing of where (dask F9)."""
    import warnings

    from geotile import distributed as gd

    outputs = [tmp_path / "a.tif", tmp_path / "b.tif"]
    for output in outputs:
        output.write_bytes(b"")
    calls = [(warnings.warn, "invalid value encountered in divide", RuntimeWarning),
             (warnings.warn, "b.tif: named already", UserWarning)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gd._run(calls, [tmp_path / "in" / "a.tif", tmp_path / "in" / "b.tif"], outputs,
                None, cluster.scheduler_address, progress=False)
    texts = sorted(str(w.message) for w in caught)
    assert texts == ["a.tif: invalid value encountered in divide", "b.tif: named already"]
    assert [w.category for w in caught if "divide" in str(w.message)] == [RuntimeWarning]


def test_dasks_unread_futures_are_not_printed_after_an_interrupt(monkeypatch, caplog, cluster):
    """An interrupt under load left one of dask's own futures unread, and asyncio printed
    'Future exception was never retrieved' and a TimeoutError under geotile's one line (seen
    in the SIGTERM test under load). asyncio's log is quiet during a run, restored after."""
    import logging

    from geotile import distributed as gd

    asyncio_log = logging.getLogger("asyncio")
    before = asyncio_log.level

    def run_on(*args):
        asyncio_log.error("Future exception was never retrieved")
        raise KeyboardInterrupt

    monkeypatch.setattr(gd, "_run_on", run_on)
    with pytest.raises(KeyboardInterrupt):
        gd._run([], [], [], None, cluster.scheduler_address, progress=False)
    assert not [r for r in caplog.records if r.name == "asyncio"]
    assert asyncio_log.level == before
    asyncio_log.error("shown again after the run")
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == [
        "shown again after the run"]


@pytest.mark.parametrize("when", ["as the cluster starts", "once its workers are up"])
def test_ctrl_c_while_the_local_cluster_starts_stops_the_run(make_raster, tmp_path, when):
    """Ctrl-C (SIGINT to the process group) while `--workers 2` starts its local cluster was
    dropped: geotile ignored SIGINT itself while the cluster started (2-4 s on 2 cores), and
    the run went on to write every output and exit 0. It stops the run now: one line, exit 1,
    nothing written; the workers, up or not, print no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    model, images, out = _three_images(make_raster, tmp_path, seed=3)
    site = tmp_path / "site"
    site.mkdir()
    before = when == "as the cluster starts"
    (site / "sitecustomize.py").write_text(
        "import os, signal\n"
        "import distributed\n"
        "_Cluster = distributed.LocalCluster\n"
        "class _CtrlC(_Cluster):\n"
        "    def __init__(self, *args, **kwargs):\n"
        f"        if {before}:\n"
        "            os.killpg(0, signal.SIGINT)\n"
        "        super().__init__(*args, **kwargs)\n"
        f"        if not {before}:\n"
        "            os.killpg(0, signal.SIGINT)\n"
        "distributed.LocalCluster = _CtrlC\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), str(Path(__file__).resolve().parents[1])])}
    process = subprocess.Popen(
        [sys.executable, "-m", "geotile", "predict", str(model), *map(str, images),
         "--tile-size", "32", "-o", str(out), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    with _reaped(process):
        _, stderr = process.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert process.returncode == -signal.SIGINT, stderr
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), stderr
    assert list(out.iterdir()) == []


def test_a_ctrl_c_held_while_the_cluster_starts_is_raised_once_it_is_up(monkeypatch):
    """The start itself runs to the end with SIGINT blocked (the workers it starts inherit
    that), then the Ctrl-C is raised and the cluster is closed, not left running."""
    import os
    import signal

    from geotile import distributed as gd

    seen = []

    class Cluster:
        def __init__(self, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            seen.append(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
            seen.append("started")

        def close(self):
            seen.append("closed")

    monkeypatch.setattr(distributed, "LocalCluster", Cluster)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            gd._client(2, None)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [True, "started", "closed"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_scheduler_runs_report_paths_as_given(run_cli, make_raster, tmp_path, cluster,
                                              monkeypatch):
    """`predict --scheduler` printed each output made absolute (/home/.../sched/img0.tif:
    ...), while the single-process and --workers runs print it as given (sched/img0.tif),
    and --json scripts saw other paths depending on the option: as given now."""
    model = pointwise_model(tmp_path / "m.onnx")
    _images(make_raster, count=2)
    monkeypatch.chdir(tmp_path)
    args = ("predict", "m.onnx", "img0.tif", "img1.tif", "--tile-size", "32", "-o")
    local = run_cli(*args, "local")
    assert local.exit_code == 0, local.output
    result = run_cli(*args, "sched", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [
        "sched/img0.tif", "sched/img1.tif"]
    assert sorted(line.split(":")[0] for line in local.stdout.splitlines()) == [
        "local/img0.tif", "local/img1.tif"]
    as_json = run_cli(*args, "sched_json", "--scheduler", cluster.scheduler_address, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert "sched_json/img0.tif" in as_json.stdout
    assert str(tmp_path) not in as_json.stdout
    assert model.exists()


def test_a_palette_file_given_relative_reaches_the_scheduler_s_workers(run_cli, make_raster,
                                                                     tmp_path, cluster,
                                                                     monkeypatch):
    """make-masks --palette pal.json --scheduler failed: '--palette pal.json: no such file'
    (each worker looked in its own working folder) while the file is there and the run
    without dask made the masks; the masks now match that run's, byte for byte."""
    import json

    colours = np.zeros((3, 20, 30), np.uint8)
    colours[2, 5:15, 5:25] = 255  # blue: building
    make_raster("labels.tif", colours)
    make_raster("img0.tif", np.ones((3, 20, 30), np.uint8))
    (tmp_path / "pal.json").write_text(json.dumps({"building": [0, 0, 255],
                                                   "ground": [0, 0, 0]}))
    monkeypatch.chdir(tmp_path)  # not the workers' working folder
    args = ("make-masks", "labels.tif", "img0.tif", "--palette", "pal.json", "-o")
    local = run_cli(*args, "local.tif")
    assert local.exit_code == 0, local.output
    result = run_cli(*args, "sched.tif", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sched.tif").read_bytes() == (tmp_path / "local.tif").read_bytes()
    with rasterio.open(tmp_path / "sched.tif") as mask:
        assert int((mask.read(1) == 1).sum()) == 200


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_scheduler_errors_name_the_paths_as_given(run_cli, make_raster, tmp_path, cluster,
                                                  monkeypatch, command):
    """A worker's error on `--scheduler` named the image made absolute (Error: /home/.../
    bad/cut.tif: ...) while one process and --workers say bad/cut.tif: as given now."""
    import json

    from rasterio.transform import from_origin

    pointwise_model(tmp_path / "m.onnx")
    bad = make_raster("cut.tif", np.random.default_rng(0).integers(0, 255, (3, 300, 300),
                                                                    np.uint8),
                      crs="EPSG:32632", transform=from_origin(500000, 5000300, 1, 1))
    bad.write_bytes(bad.read_bytes()[:20000])
    (tmp_path / "labels.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {
            "name": "urn:ogc:def:crs:EPSG::32632"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {
            "type": "Polygon", "coordinates": [[[500010, 5000010], [500290, 5000010],
                                                [500290, 5000290], [500010, 5000010]]]}}]}))
    monkeypatch.chdir(tmp_path)
    first = ["m.onnx"] if command == "predict" else ["labels.geojson"]
    results = [run_cli(command, *first, "cut.tif", "-o", out, *how) for out, how in (
        ("one/", []), ("sched/", ["--scheduler", cluster.scheduler_address]))]
    for result in results:
        assert_one_line_error(result, "Error: cut.tif: ", "damaged or truncated")
        assert str(tmp_path) not in result.stderr


def test_the_local_workers_keep_asyncio_quiet():
    """An interrupted --workers run printed 'Future exception was never retrieved ...
    TimeoutError' (3 lines) above geotile's one line, from a local worker process shutting
    down under load (the console process was already quiet): geotile's own workers are
    quiet too; a user's --scheduler workers are left as they are."""
    import logging

    from geotile.distributed import _client

    client, cluster = _client(2, None)
    try:
        levels = client.run(lambda: logging.getLogger("asyncio").level)
    finally:
        client.close()
        cluster.close()
    assert len(levels) == 2 and set(levels.values()) == {logging.CRITICAL}


def test_workers_refuse_a_jpeg_with_a_corrupt_scan_as_one_process_does(run_cli, tmp_path,
                                                                        cluster, monkeypatch):
    """GDAL_ERROR_ON_LIBJPEG_WARNING=TRUE was set in the command's process only: on the
    cluster's workers a JPEG with garbled scan data was decoded into noise and predicted,
    exit 0. The workers read with the command's setting (the user's FALSE too)."""
    model = pointwise_model(tmp_path / "m.onnx")
    jpeg = write_garbled_jpeg(tmp_path / "photo.jpg")
    args = ("predict", model, jpeg, "-o", tmp_path / "o.tif", "--tile-size", "32",
            "--scheduler", cluster.scheduler_address)
    result = run_cli(*args)
    assert_one_line_error(result, "photo.jpg", "Corrupt JPEG data", "damaged or truncated")
    assert not (tmp_path / "o.tif").exists()
    monkeypatch.setenv("GDAL_ERROR_ON_LIBJPEG_WARNING", "FALSE")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output



#: the in-process tasks' meeting points (threading.Event cannot travel through dask)
_MEET: dict = {}


def _warn_after(mine, other, text):
    """Set event ``mine``, wait for ``other`` (at most 5 s): both tasks are in their blocks;
    then warn ``text``; the late one stays in its block after the early one's ended."""
    import time
    import warnings

    _MEET[mine].set()
    _MEET[other].wait(5)
    if text.startswith("late"):
        time.sleep(0.3)
    warnings.warn(text, RuntimeWarning, stacklevel=1)


def test_tasks_in_the_callers_own_threads_leave_its_warning_filters_as_they_were(tmp_path):
    """predict_rasters(scheduler=...) on a notebook's in-process cluster (LocalCluster(
    processes=False), tasks in threads of the caller's process): two tasks' catch_warnings
    overlapped and left a 'default' filter installed for good (5 runs of 8 images: the
    filters had one more entry). The warnings are still shown here, naming their image."""
    import threading
    import warnings

    from geotile import distributed as gd

    outputs = [tmp_path / "a.tif", tmp_path / "b.tif"]
    for output in outputs:
        output.write_bytes(b"")
    _MEET.update(a_in=threading.Event(), b_in=threading.Event())
    calls = [(_warn_after, "a_in", "b_in", "early warning"),
             (_warn_after, "b_in", "a_in", "late warning")]
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        before, shown = list(warnings.filters), warnings.showwarning
        gd._run(calls, [tmp_path / "in" / "a.tif", tmp_path / "in" / "b.tif"], outputs,
                None, cluster.scheduler_address, progress=False)
        assert warnings.filters == before and warnings.showwarning is shown
    assert sorted(str(w.message) for w in caught) == ["a.tif: early warning",
                                                     "b.tif: late warning"]


def test_outputs_that_do_not_pair_with_the_images_are_one_line_input_errors(make_raster,
                                                                            tmp_path):
    """predict_rasters/make_masks_on_cluster with 2 images and 1 output raised a bare
    ValueError('one output per image'); one path each ('a.tif', 'b.tif') was taken letter
    by letter. Now an InputError as make_masks says it, and one path is one image."""
    from geotile import make_masks_on_cluster, predict_rasters
    from geotile.errors import InputError

    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    for run in (lambda outputs: predict_rasters(model, images, outputs, workers=1),
                lambda outputs: make_masks_on_cluster(tmp_path / "l.geojson", images, outputs,
                                                      workers=1)):
        with pytest.raises(InputError, match=r"^2 images but 1 output: give one output path"):
            run([tmp_path / "out.tif"])
    with pytest.raises(InputError, match=r"^1 image but 2 outputs"):
        predict_rasters(model, str(images[0]), ["a.tif", "b.tif"], workers=1)


def test_non_finite_outputs_found_by_a_worker_are_one_line(run_cli, make_raster, tmp_path):
    """x / x on black pixels of one image of two, predicted with --workers 2, crashed with
    a traceback ('NonFiniteOutput.__init__() missing 4 required positional arguments'),
    when the worker's error was rebuilt from its message: one line, as in one process, and
    the error pickles (process workers, a remote cluster)."""
    import pickle

    from onnx import helper

    from geotile.non_finite_output import NonFiniteOutput

    from .onnx_models import FLOAT, save_graph

    nodes = [helper.make_node("Div", ["input", "input"], ["q"]),
             helper.make_node("ReduceMean", ["q"], ["output"], axes=[1], keepdims=1)]
    model = save_graph(tmp_path / "xx.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("output", FLOAT, ["N", 1, "H", "W"])],
                       metadata={"model_type": "Segmentor"})
    pixels = np.full((3, 64, 64), 100, np.uint8)
    plain = make_raster("plain.tif", pixels)
    pixels[:, 30:40, 20:30] = 0  # black, declared valid
    black = make_raster("black.tif", pixels)
    result = run_cli("predict", model, plain, black, "--tile-size", "64", "-o",
                     tmp_path / "o", "--workers", "2")
    assert_one_line_error(result, "NaN or infinite", "100 of the 4096 valid pixels",
                          "row 30, col 20 of black.tif")
    assert not (tmp_path / "o" / "black.tif").exists()
    error = pickle.loads(pickle.dumps(NonFiniteOutput.at("m.onnx", 1, 4, 2, 3)))
    assert "row 2, col 3" in str(error) and (error.row, error.col) == (2, 3)


def test_an_error_of_its_own_arguments_found_by_a_worker_is_one_line(run_cli, make_raster,
                                                                     tmp_path):
    """make-masks --workers 2 of a label raster holding class id 300 crashed with a
    traceback ('BadClassIds.__init__() missing 1 required positional argument'), as the
    worker's error was rebuilt from its message: one line, as in one process."""
    labels = np.zeros((32, 32), np.uint16)
    labels[5:10, 5:10] = 300
    source = make_raster("labels.tif", labels)
    images = [make_raster(f"img{i}.tif", np.zeros((3, 32, 32), np.uint8)) for i in range(2)]
    result = run_cli("make-masks", source, *images, "-o", tmp_path / "masks", "--workers", "2")
    assert_one_line_error(result, "labels.tif", "class id 300 does not fit a mask",
                          "gdal_edit.py -a_nodata 300")
    assert not list((tmp_path / "masks").glob("*.tif"))


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_relative_archive_path_reaches_the_scheduler_s_workers(run_cli, make_raster, tmp_path,
                                                                 cluster, monkeypatch, command):
    """predict/make-masks /vsizip/tiles.zip/img0.tif --scheduler failed: "'/vsizip/tiles.zip/
    img0.tif' does not exist in the file system" (each worker looked for tiles.zip in its own
    working folder) while one process read it: the outputs now match that run's, byte for
    byte, and the summaries name the paths as given."""
    import json
    import zipfile

    pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    with zipfile.ZipFile(tmp_path / "tiles.zip", "w") as archive:
        for image in images:
            archive.write(image, image.name)
    (tmp_path / "labels.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                                   "geometry": {"type": "Polygon", "coordinates": [[
                                                       [0, 0], [0, 1], [1, 1], [0, 0]]]}}]}))
    monkeypatch.chdir(tmp_path)  # not the workers' working folder
    first = ["m.onnx", "--tile-size", "32"] if command == "predict" else ["labels.geojson"]
    inside = [f"/vsizip/tiles.zip/{image.name}" for image in images]
    local = run_cli(command, *first, *inside, "-o", "local")
    assert local.exit_code == 0, local.output
    result = run_cli(command, *first, *inside, "-o", "sched", "--scheduler",
                     cluster.scheduler_address, "--json")
    assert result.exit_code == 0, result.output
    for image in images:
        assert (tmp_path / "sched" / image.name).read_bytes() == \
            (tmp_path / "local" / image.name).read_bytes()
    assert inside[0] in result.stdout and str(tmp_path) not in result.stdout


def _hold(name):
    """Say the task started, then wait (at most 20 s) to be released."""
    _MEET["started"].set()
    _MEET["release"].wait(20)
    return {"image": name}


@contextlib.contextmanager
def _a_scheduler_lost_mid_run():
    """The address of an in-process cluster whose scheduler closes once an image of a run
    on it (:func:`_run_two_held`) has started: a preempted node."""
    import asyncio
    import threading

    import dask

    _MEET.update(started=threading.Event(), release=threading.Event())
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}), \
            distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                     dashboard_address=None) as cluster:

        def stop_the_scheduler():
            _MEET["started"].wait(20)
            asyncio.run_coroutine_threadsafe(cluster.scheduler.close(),
                                             cluster.loop.asyncio_loop)

        threading.Thread(target=stop_the_scheduler, daemon=True).start()
        try:
            yield cluster.scheduler_address
        finally:
            _MEET["release"].set()


def _run_two_held(address, tmp_path) -> None:
    """Two images held on the cluster at ``address`` until released."""
    from geotile import distributed as gd

    gd._run([(_hold, "a.tif"), (_hold, "b.tif")], ["a.tif", "b.tif"],
            [tmp_path / "a.tif", tmp_path / "b.tif"], None, address, progress=False)


def test_a_scheduler_lost_mid_run_is_one_line(tmp_path, caplog):
    """The scheduler of a --scheduler run stopped (a preempted node) while 2 images ran:
    a traceback ending in 'FutureCancelledError: _task-9f58... cancelled for reason:
    scheduler-connection-lost', under dask's own logged tracebacks. Now one GeotileError
    naming the scheduler and saying how to go on, with nothing logged by dask's client."""
    import logging

    from geotile.errors import GeotileError

    with _a_scheduler_lost_mid_run() as address, \
            caplog.at_level(logging.WARNING, logger="distributed.client"), \
            pytest.raises(GeotileError) as raised:
        _run_two_held(address, tmp_path)
    message = str(raised.value)
    assert message.startswith(f"--scheduler {address}: the connection to the dask "
                              "scheduler was lost"), message
    assert "--resume" in message and "\n" not in message
    assert not [r for r in caplog.records if r.name.startswith("distributed.client")]
    assert not list(tmp_path.iterdir())


def test_a_lost_scheduler_leaves_the_users_client_log_level_as_it_was(tmp_path):
    """A lost --scheduler run left distributed.client at CRITICAL for the rest of the
    process (an API user's DEBUG config silenced for every later client)."""
    import logging

    from geotile.errors import GeotileError

    client_log = logging.getLogger("distributed.client")
    before = client_log.level
    try:
        with _a_scheduler_lost_mid_run() as address:
            client_log.setLevel(logging.DEBUG)  # the user's own logging config
            with pytest.raises(GeotileError, match="was lost"):
                _run_two_held(address, tmp_path)
            assert client_log.level == logging.DEBUG
    finally:
        client_log.setLevel(before)


def test_local_workers_leave_nothing_in_tmpdir(run_cli, make_raster, tmp_path, monkeypatch):
    """`predict --workers 2` left TMPDIR/dask-scratch-space/ with global.lock and
    purge.lock behind after every run (success or Ctrl-C): the local cluster's scratch
    space is a folder of the run's own, removed with the cluster."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    model = pointwise_model(tmp_path / "m.onnx")
    _images(make_raster, count=2)
    result = run_cli("predict", model, tmp_path / "img0.tif", tmp_path / "img1.tif",
                     "--tile-size", "32", "-o", tmp_path / "out", "--workers", "2")
    assert result.exit_code == 0, result.output
    # onnxruntime itself writes its telemetry session file (.ses) on import
    assert sorted(p.name for p in scratch.iterdir() if p.name != ".ses") == []


def test_local_workers_leave_the_callers_environment_as_it_was(make_raster, tmp_path,
                                                               monkeypatch):
    """predict_rasters(..., workers=2) from a user's program left OMP_NUM_THREADS=1,
    MKL_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED and
    __DASK_PARENT_PID in its os.environ (dask's nanny sets them in the parent to pass them to
    the workers): libraries it loads later ran on one thread, and so did the programs it
    starts. The caller's environment is put back once the run ends."""
    import geotile

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MALLOC_TRIM_THRESHOLD_", "PYTHONHASHSEED", "__DASK_PARENT_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEOTILE_TEST_USER_SETTING", "kept")
    before = dict(os.environ)
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, count=2)
    geotile.predict_rasters(model, images, [tmp_path / "a.tif", tmp_path / "b.tif"],
                            workers=2)
    assert (tmp_path / "b.tif").exists()
    assert dict(os.environ) == before


def test_local_workers_leave_no_start_method_and_no_scheduler_behind(make_raster, tmp_path):
    """predict_rasters(..., workers=1) three times in a fresh process fixed
    multiprocessing's start method ('fork': Python's spawn asks for the default while it
    starts a worker), so the caller's own set_start_method('spawn') then failed with
    'context has already been set'; and each run's scheduler stayed alive for good
    (distributed caches its bound methods), one more handler on the 'distributed.scheduler'
    logger per run (3 after 3 runs). Both are as before the runs now."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    model = pointwise_model(tmp_path / "m.onnx")
    image = _images(make_raster, count=1)[0]
    script = textwrap.dedent(f"""
        import gc, logging, multiprocessing
        import geotile
        if __name__ == "__main__":
            for run in range(3):
                geotile.predict_rasters({str(model)!r}, [{str(image)!r}],
                                        [{str(tmp_path)!r} + f"/out{{run}}.tif"], workers=1)
            gc.collect()
            print(multiprocessing.get_start_method(allow_none=True),
                  len(logging.getLogger("distributed.scheduler").handlers))
            multiprocessing.set_start_method("spawn")
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["None", "0"]
    assert all((tmp_path / f"out{run}.tif").exists() for run in range(3))


def test_local_workers_make_a_missing_dask_temporary_directory(run_cli, make_raster, tmp_path):
    """dask's temporary-directory set to a folder not made yet: dask makes it, but the run's
    scratch folder was made in it first and `predict --workers 2` failed ('...geotile-dask-...:
    No such file or directory. Check that the output folder exists')."""
    import dask

    scratch = tmp_path / "not" / "yet"
    model = pointwise_model(tmp_path / "m.onnx")
    _images(make_raster, count=2)
    with dask.config.set({"temporary-directory": str(scratch)}):
        result = run_cli("predict", model, tmp_path / "img0.tif", tmp_path / "img1.tif",
                         "--tile-size", "32", "-o", tmp_path / "out", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.tif", "img1.tif"]
    assert list(scratch.iterdir()) == []


def test_a_users_gdal_http_limits_reach_the_workers():
    """predict_rasters under the notebook's rasterio.Env(GDAL_HTTP_LOW_SPEED_TIME=120) for a
    slow server: the workers read remote images under geotile's 15 s limit instead (only
    GDAL_ERROR_ON_LIBJPEG_WARNING travelled), and failed where the caller's process would
    not. The HTTP limits travel as set where the run started."""
    import os

    import rasterio
    from distributed import Client, LocalCluster
    from rasterio.env import get_gdal_config

    from geotile import distributed

    before = dict(os.environ)
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            with rasterio.Env(GDAL_HTTP_LOW_SPEED_TIME="120"):
                names = distributed._RunNames()
            result, _, _ = client.submit(distributed._task, names, (None, None),
                                         get_gdal_config, "GDAL_HTTP_LOW_SPEED_TIME",
                                         pure=False).result()
    finally:
        os.environ.clear()
        os.environ.update(before)
    assert str(result) == "120"


def test_an_interrupt_does_not_call_outputs_read_and_kept_still_running(cluster, tmp_path,
                                                                       monkeypatch):
    """All workers killed mid-run, then Ctrl-C: the images whose worker died after their
    output was read are pending again on the scheduler (dask recomputes lost results). The
    message called them 'still running ... they will write nothing' and, in the same line,
    'finished and are kept'; they are only kept."""
    import time

    from geotile import distributed as gd

    monkeypatch.setattr(gd, "STOP_WAIT_S", 0.5)
    output = tmp_path / "done.tif"
    output.write_bytes(b"a finished output")
    with distributed.Client(cluster) as client:
        lost = client.submit(time.sleep, 2, pure=False)  # pending again: not done
        read = {"image": "a.tif", "output": str(output)}
        interrupted = gd._interrupt(client, [lost], gd._RunNames(), [output], [read])
    text = str(interrupted)
    assert "still running" not in text, text
    assert text.endswith("1 output(s) were finished and are kept: done.tif."), text
    assert output.read_bytes() == b"a finished output"


def test_threads_of_one_worker_load_a_replaced_model_once(tmp_path, monkeypatch):
    """A worker of several threads (dask's default LocalCluster, a user's own cluster) starts
    tasks of one run at once: each thread that missed the cache loaded its own session (4
    copies of the model, each with ONNX Runtime threads on every usable CPU) and, with the
    session of a replaced model file in the cache, both removed it: one task died with a
    KeyError traceback. One thread loads the model; the others take its session."""
    import threading
    import time

    from geotile import distributed as gd
    from geotile.model import OnnxModel

    both_removing = threading.Barrier(2, timeout=1.5)

    class Meeting(dict):  # two threads removing the stale session meet there, if both can
        def __delitem__(self, key):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_removing.wait()
            super().__delitem__(key)

    model = pointwise_model(tmp_path / "m.onnx")
    options = {"providers": "cpu", "threads": 1}
    stale = (*gd._model_key(os.fspath(model), options), ("an older", "file"))
    monkeypatch.setattr(gd, "_MODELS", Meeting({stale: object()}))
    loads = []
    load = OnnxModel.from_path

    def loading(*args, **kwargs):
        loads.append(threading.current_thread().name)
        time.sleep(0.2)  # a real model takes a while: the other thread comes meanwhile
        return load(*args, **kwargs)

    monkeypatch.setattr(OnnxModel, "from_path", loading)
    got, failed = {}, []

    def task():
        try:
            got[threading.current_thread().name] = gd._worker_model(os.fspath(model), options)
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=task, name=f"t{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failed == [] and len(loads) == 1
    assert got["t0"] is got["t1"] and list(gd._MODELS.values()) == [got["t0"]]


#: events of the user's own computation in the next test (a task's function pickles by name)
_USERS_WORK = {"started": __import__("threading").Event(),
               "release": __import__("threading").Event()}


def _users_own(x):
    _USERS_WORK["started"].set()
    _USERS_WORK["release"].wait(10)
    return x + 1


def test_a_run_on_the_users_cluster_leaves_the_users_client_the_default(make_raster, tmp_path,
                                                                        monkeypatch):
    """predict_rasters(scheduler=...) from a notebook or service with its own Client made
    its client the process's default for the run: the user's own dask.compute in another
    thread went to it and died when the run closed it (CancelledError), and an in-process
    worker's tasks of a second run at once took it as theirs ('NoneType' object has no
    attribute 'event_is_set', or a run waiting forever: 2 of 40 pairs of runs). geotile's
    client is never the default: the user's computation ends on the user's client."""
    import logging
    import threading

    import dask

    from geotile import distributed as gd

    started, release = _USERS_WORK["started"], _USERS_WORK["release"]
    done = {}
    run_on = gd._run_on

    def with_users_work(client, *args):
        def compute():  # the user's, in another thread, as long as the run and after it
            try:
                done["result"] = dask.compute(dask.delayed(_users_own)(1))[0]
            except BaseException as exc:
                done["result"] = exc
        thread = threading.Thread(target=compute)
        thread.start()
        started.wait(10)
        done["thread"] = thread
        return run_on(client, *args)

    monkeypatch.setattr(gd, "_run_on", with_users_work)
    model = pointwise_model(tmp_path / "m.onnx")
    images = _images(make_raster, 2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as users:
        summaries = gd.predict_rasters(model, images, [tmp_path / f"p{i}.tif" for i in range(2)],
                                       scheduler=cluster.scheduler_address)
        assert len(summaries) == 2 and distributed.default_client() is users
        release.set()
        done["thread"].join(20)
    assert done["result"] == 2


def test_two_runs_at_once_leave_environment_and_loggers_as_they_were(monkeypatch):
    """Two runs in threads of one process (a service, a notebook): each saved os.environ and
    the asyncio / distributed.client logger levels as it started and put them back as it
    ended, so the run that ended last put back what the first had changed: its cluster's
    OMP_NUM_THREADS=1 stayed in the process, the loggers at CRITICAL. The first run to start
    saves them, the last to end restores them."""
    import logging
    import threading

    from geotile import distributed as gd

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    asyncio_log, client_log = logging.getLogger("asyncio"), logging.getLogger("distributed.client")
    monkeypatch.setattr(asyncio_log, "level", logging.INFO)
    monkeypatch.setattr(client_log, "level", logging.WARNING)

    class Closable:
        def close(self):
            pass

    def started_cluster(workers, scheduler, scratch=None):
        os.environ["OMP_NUM_THREADS"] = "1"  # as dask's nanny sets it for its workers
        return Closable(), None

    first_running, second_running, first_done = (threading.Event() for _ in range(3))

    def run_on(client, names, *args):
        if threading.current_thread().name == "first":
            first_running.set()
            second_running.wait(10)  # the second run starts (and saves) while this one runs
        else:
            second_running.set()
            first_done.wait(10)  # and ends after it
        return []

    monkeypatch.setattr(gd, "_client", started_cluster)
    monkeypatch.setattr(gd, "_run_on", run_on)
    run = lambda: gd._run([], [], [], 1, None, False)  # noqa: E731
    first = threading.Thread(target=run, name="first")
    second = threading.Thread(target=run, name="second")
    first.start()
    first_running.wait(10)
    second.start()
    first.join(10)
    first_done.set()
    second.join(10)
    assert "OMP_NUM_THREADS" not in os.environ
    assert (asyncio_log.level, client_log.level) == (logging.INFO, logging.WARNING)


def test_tasks_over_one_flatgeobuf_get_its_class_names_read_once(run_cli, tmp_path,
                                                                 monkeypatch):
    """Each task of make-masks --workers over one big FlatGeobuf read the file's whole class
    column again for the run's class ids (200k polygons, 20 tiles: 16.6 s against 5.1 s in
    one process). It is read once before the tasks start; masks byte for byte as in one
    process. (The tasks run in this process here, to count the reads.)"""
    import geopandas as gpd
    import shapely

    from geotile import distributed as gd
    from geotile import labels as gl

    images = _four_tiles(tmp_path)
    gpd.GeoDataFrame({"kind": ["house", "shed", "barn", "house"]}, geometry=[
        shapely.box(500002 + 30 * i, 5000005, 500020 + 30 * i, 5000020) for i in range(4)],
        crs="EPSG:32632").to_file(tmp_path / "labels.fgb")
    args = ("make-masks", tmp_path / "labels.fgb", *images, "--class-field", "kind", "-o")
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    reads = []
    distinct = gl._distinct
    monkeypatch.setattr(gl, "_distinct", lambda *a: reads.append(a) or distinct(*a))
    monkeypatch.setattr(gd, "_run", lambda calls, *_, **__: [f(*a) for f, *a in calls])
    tasks = run_cli(*args, tmp_path / "tasks", "--workers", "2")
    assert tasks.exit_code == 0, tasks.output
    assert len(reads) == 1
    for image in images:
        assert (tmp_path / "tasks" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()


def test_a_flatgeobuf_s_lost_order_is_one_warning_as_in_one_process(run_cli, tmp_path,
                                                                     cluster):
    """make-masks over a spatially indexed FlatGeobuf whose classes overlap on 12 tiles
    warned once in one process ("on t_0_0.tif, t_0_1.tif, t_0_2.tif and 9 more") but once
    per tile on a cluster, 12 warnings in the order the tasks ended (2000 for a city). The
    tasks' warnings are gathered: one warning, word for word as in one process."""
    import geopandas as gpd
    import shapely
    from rasterio.transform import from_origin

    images, boxes, kinds = [], [], []
    for i in range(4):
        path = tmp_path / f"t_{i}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=30, height=30, count=1,
                           dtype="uint8", crs="EPSG:32632",
                           transform=from_origin(500000 + 30 * i, 5000030, 1, 1)) as dst:
            dst.write(np.full((1, 30, 30), 100, np.uint8))
        images.append(path)
        boxes += [shapely.box(500002 + 30 * i, 5000005, 500020 + 30 * i, 5000020),
                  shapely.box(500010 + 30 * i, 5000010, 500025 + 30 * i, 5000025)]
        kinds += ["house", "shed"]
    gpd.GeoDataFrame({"kind": kinds}, geometry=boxes, crs="EPSG:32632").to_file(
        tmp_path / "labels.fgb")
    args = ("make-masks", tmp_path / "labels.fgb", *images, "--class-field", "kind", "-o")
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    lost = [line for line in single.output.splitlines() if "spatial index" in line]
    assert len(lost) == 1 and "t_0.tif, t_1.tif, t_2.tif and 1 more" in lost[0], lost
    on_cluster = run_cli(*args, tmp_path / "cluster", "--scheduler",
                         cluster.scheduler_address)
    assert on_cluster.exit_code == 0, on_cluster.output
    assert [line for line in on_cluster.output.splitlines() if "spatial index" in line] == lost
    for image in images:
        assert (tmp_path / "cluster" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()


def test_a_labels_file_s_warnings_are_not_repeated_for_every_task(run_cli, tmp_path,
                                                                  cluster):
    """make-masks --workers/--scheduler over a file with a point feature and a polygon of no
    area near each of 4 tiles said both warnings once per tile, each with that tile's counts
    (8 lines; 4000 for a city of 2000 tiles; one process: 2). Each is said once in full, the
    other tiles named in one line per warning, as for warnings about images."""
    import geopandas as gpd
    import shapely

    images, shapes = _four_tiles(tmp_path), []
    for i in range(4):
        x = 500000 + 30 * i
        shapes += [shapely.box(x + 2, 5000005, x + 20, 5000020), shapely.Point(x + 5, 5000025),
                   shapely.Polygon([(x + 3, 5000003), (x + 6, 5000003), (x + 9, 5000003)])]
    gpd.GeoDataFrame(geometry=shapes, crs="EPSG:32632").to_file(tmp_path / "labels.gpkg")
    args = ("make-masks", tmp_path / "labels.gpkg", *images, "-o")
    single, on_cluster = _here_and_on_cluster(run_cli, args, tmp_path, cluster)
    for kind in ("point feature", "no area (rings"):
        said = [line for line in single.output.splitlines() if kind in line]
        assert len(said) == 1 and "4 " in said[0], said
        said = [line for line in on_cluster.output.splitlines() if kind in line]
        assert len(said) == 2, said  # one in full, one naming the 3 other tiles
        assert "3 more images" in said[1] and all(
            any(image.name in line for line in said) for image in images), said
    for image in images:
        assert (tmp_path / "cluster" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()


def test_a_labels_file_s_lines_left_out_are_not_repeated_for_every_task(run_cli, tmp_path,
                                                                        cluster):
    """The same for line features without --line-width: 9 lines for a 16-tile city (one
    process: 1), each with its tile's count; now one in full and one naming the others."""
    import geopandas as gpd
    import shapely

    images, shapes = _four_tiles(tmp_path), []
    for i in range(4):
        x = 500000 + 30 * i
        shapes += [shapely.box(x + 2, 5000005, x + 20, 5000020), *(  # i + 1 lines on t_i
            shapely.LineString([(x + 3, 5000025 - k), (x + 25, 5000027 - k)])
            for k in range(i + 1))]
    gpd.GeoDataFrame(geometry=shapes, crs="EPSG:32632").to_file(tmp_path / "labels.gpkg")
    args = ("make-masks", tmp_path / "labels.gpkg", *images, "-o")
    single, on_cluster = _here_and_on_cluster(run_cli, args, tmp_path, cluster)
    said = [line for line in single.output.splitlines() if "line feature" in line]
    assert len(said) == 1 and "10 line features" in said[0], said
    said = [line for line in on_cluster.output.splitlines() if "line feature" in line]
    assert len(said) == 2 and "3 more images" in said[1], said
    assert all(any(image.name in line for line in said) for image in images), said
    assert "--line-width M" in said[1]


def test_unreadable_geojson_lines_features_are_not_repeated_for_every_task(run_cli, tmp_path,
                                                                           cluster):
    """GeoJSON lines keep features whose coordinates are JSON text as unread (81cb572): one
    process said their skip once, a cluster once per task with that tile's feature numbers
    (2,000 lines for a 2,000-tile city); now one in full and one naming the others."""
    import json

    from rasterio.transform import from_origin

    images, lines = [], []
    for i in range(4):
        path = tmp_path / f"t_{i}.tif"
        x = 10 + i * 0.001
        with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                           dtype="uint8", crs="EPSG:4326",
                           transform=from_origin(x, 50, 0.00005, 0.00005)) as dst:
            dst.write(np.full((1, 20, 20), 100, np.uint8))
        images.append(path)
        ring = [[x + 0.0001, 49.9999], [x + 0.0006, 49.9999], [x + 0.0006, 49.9994],
                [x + 0.0001, 49.9994], [x + 0.0001, 49.9999]]
        for coordinates in (ring, [[str(a), str(b)] for a, b in ring]):  # text: unread
            lines.append(json.dumps({"type": "Feature", "properties": {}, "geometry": {
                "type": "Polygon", "coordinates": [coordinates]}}))
    (tmp_path / "f.geojsonl").write_text("\n".join(lines) + "\n")
    args = ("make-masks", tmp_path / "f.geojsonl", *images, "-o")
    single, on_cluster = _here_and_on_cluster(run_cli, args, tmp_path, cluster)
    said = [line for line in single.output.splitlines() if "cannot be read" in line]
    assert len(said) == 1 and "4 features" in said[0], said
    said = [line for line in on_cluster.output.splitlines() if "cannot be read" in line]
    assert len(said) == 2 and "3 more images" in said[1], said
    assert all(any(image.name in line for line in said) for image in images), said
    for image in images:  # the readable footprint burnt on each, as in one process
        assert (tmp_path / "cluster" / image.name).read_bytes() == \
            (tmp_path / "single" / image.name).read_bytes()


def _here_and_on_cluster(run_cli, args, tmp_path, cluster):
    """The command ``args`` (ending in -o) run in one process into tmp_path/single and on
    ``cluster`` into tmp_path/cluster, each checked to exit 0."""
    single = run_cli(*args, tmp_path / "single")
    assert single.exit_code == 0, single.output
    on_cluster = run_cli(*args, tmp_path / "cluster", "--scheduler",
                         cluster.scheduler_address)
    assert on_cluster.exit_code == 0, on_cluster.output
    return single, on_cluster


def _four_tiles(tmp_path):
    """Four adjacent 30 px tiles t_0..t_3.tif (UTM 32N, 1 m) in a row from x 500000."""
    from rasterio.transform import from_origin

    images = []
    for i in range(4):
        path = tmp_path / f"t_{i}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=30, height=30, count=1,
                           dtype="uint8", crs="EPSG:32632",
                           transform=from_origin(500000 + 30 * i, 5000030, 1, 1)) as dst:
            dst.write(np.full((1, 30, 30), 100, np.uint8))
        images.append(path)
    return images


def test_a_sentinel2_subdataset_is_predicted_on_a_scheduler_as_in_one_process(
        run_cli, tmp_path, cluster, monkeypatch):
    """A SAFE subdataset's name (SENTINEL2_L2A:<file>:10m:EPSG_32631) went to the workers
    made absolute as a path, /cwd/SENTINEL2_L2A:/abs/...: 'not a raster GDAL can read'.
    Its file is made absolute (a relative one too, from our folder): the same output."""
    from .test_predict_mlm import identity_model
    from .test_sentinel2_safe import _DRIVERS, safe_product

    if not {"SENTINEL2", "JP2OpenJPEG"} <= set(_DRIVERS):
        pytest.skip("GDAL without the SENTINEL2 or JP2OpenJPEG driver")
    name = safe_product(tmp_path)
    monkeypatch.chdir(tmp_path)
    relative = name.replace(f"{tmp_path}/", "")
    model = identity_model(tmp_path / "id.onnx", 3)
    for number, given in enumerate((name, relative)):
        args = ("predict", model, given, "--bands", "B04,B03,B02", "--activation", "none",
                "--tile-size", "16", "-o")
        single = run_cli(*args, tmp_path / f"single{number}.tif")
        assert single.exit_code == 0, single.output
        on_cluster = run_cli(*args, tmp_path / f"cluster{number}.tif", "--scheduler",
                             cluster.scheduler_address)
        assert on_cluster.exit_code == 0, on_cluster.output
        assert (tmp_path / f"cluster{number}.tif").read_bytes() == \
            (tmp_path / f"single{number}.tif").read_bytes()


def test_the_workers_digest_with_the_callers_code_fingerprint(run_cli, make_raster, tmp_path,
                                                               cluster, monkeypatch):
    """--resume's digests hold geotile's code fingerprint: the workers (other processes,
    maybe another install) tag outputs with the caller's, so that a run on the cluster and
    one without it agree on what is complete."""
    from geotile import code_fingerprint, resume

    monkeypatch.setattr(code_fingerprint, "_own", lambda: "f" * 64)  # the workers' differs
    model = tmp_path / "m.onnx"
    pointwise_model(model, classes=2)
    images = _images(make_raster, 2)
    args = ("predict", model, *images, "--tile-size", "32", "-o", tmp_path / "out")
    result = run_cli(*args, "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / images[0].name) as src:
        assert src.tags()[resume.TAG].endswith("-" + "f" * resume.CODE_CHARS)
    resumed = run_cli(*args, "--resume")
    assert resumed.exit_code == 0 and resumed.output.count("skipped (--resume)") == 2


def test_a_worker_s_warning_on_several_dates_is_one_line(run_cli, make_raster, tmp_path,
                                                         cluster):
    """A multi-temporal model's images of three dates (a folder each) on a scheduler: a
    worker's warning came back through a list of paths ('expected str, bytes or
    os.PathLike object, not list'); now each is one 'Warning:' line."""
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        for folder in ("t1", "t2", "t3"):
            (tmp_path / folder).mkdir(exist_ok=True)
            make_raster(f"{folder}/{name}.tif", rng.integers(0, 3000, (2, 24, 24), np.uint16))
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    result = run_cli("predict", model, tmp_path / "t1" / "a.tif", tmp_path / "t1" / "b.tif",
                     "--extra-bands", tmp_path / "t2", "--extra-bands", tmp_path / "t3",
                     "-o", tmp_path / "out", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("Warning:") for line in lines), result.stderr
    assert "uint16" in lines[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.tif", "b.tif"]


def test_a_palette_file_named_as_a_built_in_one_is_refused_on_a_scheduler(
        run_cli, make_raster, tmp_path, cluster, monkeypatch):
    """make-masks --palette fbp with the user's own JSON palette saved as 'fbp' in the
    working folder is refused in one process and with --workers ('Give ./fbp for the
    file'), but with --scheduler each worker looked for ./fbp in its own folder, found none
    and burnt the built-in Five Billion Pixels palette (red 'building' -> 255, exit 0).
    Refused there too, before any mask; ./fbp reads the file on the workers."""
    from rasterio.transform import from_origin

    monkeypatch.chdir(tmp_path)
    grid = {"crs": "EPSG:32632", "transform": from_origin(500000, 5000060, 1, 1)}
    rgb = np.zeros((3, 6, 8), np.uint8)
    rgb[0, :, :4] = 255  # red left half, black right
    labels = make_raster("label.tif", rgb, **grid)
    images = [make_raster(f"i{k}.tif", np.zeros((3, 6, 8), np.uint8), **grid) for k in (0, 1)]
    (tmp_path / "fbp").write_text('{"background": [0, 0, 0], "building": [255, 0, 0]}')
    for mode in (("--workers", "2"), ("--scheduler", cluster.scheduler_address)):
        out = tmp_path / f"out-{mode[0][2:]}"
        result = run_cli("make-masks", labels, *images, "-o", out, "--palette", "fbp", *mode)
        assert_one_line_error(result, "--palette fbp", "./fbp")
        assert not out.exists() or list(out.iterdir()) == []
    out = tmp_path / "file"
    result = run_cli("make-masks", labels, *images, "-o", out, "--palette", "./fbp",
                     "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    for k in (0, 1):
        with rasterio.open(out / f"i{k}.tif") as mask:
            burnt = mask.read(1)
        assert (burnt[:, :4] == 1).all() and (burnt[:, 4:] == 0).all()


def _run_other_code():
    """In a worker: geotile's code reads as another install's (another version)."""
    from geotile import code_fingerprint

    code_fingerprint.content = lambda files=None: "0" * 64


def _run_own_code():
    from geotile import code_fingerprint

    del code_fingerprint.content  # the module's function again
    import importlib

    importlib.reload(code_fingerprint)


def test_workers_running_other_geotile_code_are_refused(run_cli, make_raster, tmp_path,
                                                        cluster):
    """Workers that import another geotile (another install, same version string) would
    write its outputs and tag them with this command's fingerprint, so a later --resume
    took them for this code's: the run stops at the first such task, one line, exit 1."""
    from geotile import resume

    model = tmp_path / "m.onnx"
    pointwise_model(model, classes=2)
    images = _images(make_raster, 2)
    with distributed.Client(cluster) as client:
        client.run(_run_other_code)
        try:
            result = run_cli("predict", model, *images, "--tile-size", "32", "-o",
                             tmp_path / "out", "--scheduler", cluster.scheduler_address)
        finally:
            client.run(_run_own_code)
    assert_one_line_error(result, "other geotile code", "install the same geotile")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # the same workers running this code again: the run goes through, tagged as ours
    result = run_cli("predict", model, *images, "--tile-size", "32", "-o", tmp_path / "out",
                     "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / images[0].name) as src:
        assert resume.TAG in src.tags()


def _workers_may_not_write(on: bool):
    """In a worker: every folder reads as not writable (a worker run as another user, a
    read-only mount), or as it is again."""
    import errno
    import pathlib

    original = os.__dict__.setdefault("_unpatched_access", os.access)
    os.access = (lambda path, mode, **kw: not mode & os.W_OK and original(path, mode, **kw)) \
        if on else original
    mkdir = pathlib.__dict__.setdefault("_unpatched_mkdir", pathlib.Path.mkdir)

    def refused(path, *args, **kwargs):
        if path.name == "out" and not path.exists():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return mkdir(path, *args, **kwargs)

    pathlib.Path.mkdir = refused if on else mkdir


@pytest.mark.parametrize("made", [True, False])
def test_an_output_folder_only_this_machine_may_write_is_said_to_be_the_worker_s(
        run_cli, make_raster, tmp_path, cluster, monkeypatch, made):
    """A worker that may not write (or make) the output folder that the user may: the one
    line names the folder as given and says it is the worker that cannot write there,
    not 'fix its permissions' of a folder the user can write."""
    pointwise_model(tmp_path / "m.onnx")
    make_raster("a.tif", np.zeros((3, 20, 20), np.uint8))
    if made:
        (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    with distributed.Client(cluster) as client:
        client.run(_workers_may_not_write, True)
        try:
            result = run_cli("predict", "m.onnx", "a.tif", "-o", "out/",
                             "--scheduler", cluster.scheduler_address)
        finally:
            client.run(_workers_may_not_write, False)
    assert_one_line_error(result, "out: ", "dask worker tcp://", "this machine can")
    assert str(tmp_path) not in result.stderr
    assert not (tmp_path / "out" / "a.tif").exists()


def _read_code_at(root: str | None):
    """In a worker: geotile's code reads as the copy at ``root`` (None: its own again)."""
    import importlib

    from geotile import code_fingerprint

    if root is None:
        importlib.reload(code_fingerprint)
        return
    code_fingerprint.__file__ = os.path.join(root, "geotile", "code_fingerprint.py")
    for name in dir(code_fingerprint):  # what it read of the code before: read again
        if hasattr(cached := getattr(code_fingerprint, name), "cache_clear"):
            cached.cache_clear()


@pytest.mark.parametrize("change", ["stray files", "a module changed"])
def test_workers_whose_geotile_holds_stray_files_run_the_same_code(run_cli, make_raster,
                                                                    tmp_path, cluster, change):
    """A worker's geotile holding files the caller's has not (a module removed since, left
    by an rsync without --delete or a wheel built over a stale build/; tests copied in) was
    refused as 'other geotile code', exit 1, though every module the caller's code imports
    was the same. Now only the caller's files count; one of them changed is still refused."""
    import shutil
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "geotile"
    copy = tmp_path / "site-packages"
    shutil.copytree(package, copy / "geotile", ignore=shutil.ignore_patterns("__pycache__"))
    if change == "stray files":
        (copy / "geotile" / "old_module.py").write_text("X = 1\n")
        (copy / "geotile" / "tests").mkdir()
        (copy / "geotile" / "tests" / "test_old.py").write_text("def test(): pass\n")
    else:
        with open(copy / "geotile" / "tta.py", "a", encoding="utf-8") as module:
            module.write("\nSHIFT = 1\n")
    model = tmp_path / "m.onnx"
    pointwise_model(model, classes=2)
    images = _images(make_raster, 2)
    with distributed.Client(cluster) as client:
        client.run(_read_code_at, str(copy))
        try:
            result = run_cli("predict", model, *images, "--tile-size", "32", "-o",
                             tmp_path / "out", "--scheduler", cluster.scheduler_address)
        finally:
            client.run(_read_code_at, None)
    if change == "stray files":
        assert result.exit_code == 0, result.output
        assert all((tmp_path / "out" / image.name).is_file() for image in images)
    else:
        assert_one_line_error(result, "other geotile code", "install the same geotile")



def test_workers_whose_geotile_was_upgraded_since_they_started_are_refused(
        run_cli, make_raster, tmp_path, cluster):
    """Workers that ran geotile tasks and then had their geotile upgraded under them (pip
    install -U, git pull) read the code once: they went on with the modules they had loaded
    (the old code) and loaded the others from the new files, exit 0, while a caller of the
    old code saw its own digest. Now a task finds the files changed since its process read
    them and is refused, naming the worker and the restart; a touch alone changes nothing."""
    import os
    import shutil
    from pathlib import Path

    from .conftest import assert_one_line_error

    copy = tmp_path / "site-packages"
    shutil.copytree(Path(__file__).resolve().parents[1] / "geotile", copy / "geotile",
                    ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "m.onnx"
    pointwise_model(model, classes=2)
    images = _images(make_raster, 2)
    args = ("predict", model, *images, "--tile-size", "32", "-o", tmp_path / "out",
            "--overwrite", "--scheduler", cluster.scheduler_address)
    with distributed.Client(cluster) as client:
        client.run(_read_code_at, str(copy))
        try:
            assert run_cli(*args).exit_code == 0  # the same code as this command's
            os.utime(copy / "geotile" / "tta.py")  # touched: the same code still
            assert run_cli(*args).exit_code == 0
            with open(copy / "geotile" / "tta.py", "a", encoding="utf-8") as module:
                module.write("\nSHIFT = 1\n")  # an upgrade, under the running workers
            result = run_cli(*args)
        finally:
            client.run(_read_code_at, None)
    assert_one_line_error(result, "dask worker tcp://", "changed since", "restart")


def test_make_masks_of_a_guessed_crs_judges_the_run_not_each_task(run_cli, make_raster,
                                                                   tmp_path, cluster):
    """A Parquet without 'geo' metadata (read as lon/lat) of footprints on one image of two:
    the task of the other image, on its own, saw no feature and refused the guess (exit 1
    with one mask written). The run is judged as in one process: both masks, exit 0; and
    footprints that miss both images (UTM metres / 1e5) are refused before any mask."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import rasterio
    import shapely
    from pyproj import Transformer
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    box = shapely.box(x0 + 2, y0 - 8, x0 + 6, y0 - 2)
    to_lonlat = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    images = [make_raster("near.tif", np.zeros((20, 20), np.uint8)),
              make_raster("far.tif", np.zeros((20, 20), np.uint8),
                          transform=from_origin(x0 + 5000, y0, 0.5, 0.5))]
    for name, shape in (("lonlat", shapely.transform(
            box, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))),
            ("scaled", shapely.transform(box, lambda xy: xy / 1e5))):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"geometry": pa.array([shapely.to_wkb(shape)], pa.binary())}),
                       path)
        out = tmp_path / name
        result = run_cli("make-masks", path, *images, "-o", out, "--scheduler",
                         cluster.scheduler_address)
        if name == "scaled":
            assert_one_line_error(result, "scaled.parquet", "no feature overlaps",
                                  "no CRS", "--labels-crs")
            assert not list(out.glob("*.tif"))
            continue
        assert result.exit_code == 0, result.output
        with rasterio.open(out / "near.tif") as src:
            assert src.read(1).sum() == 8 * 12
        with rasterio.open(out / "far.tif") as src:
            assert not src.read(1).any()


def _another_run_writes(other, out, name):
    import shutil

    shutil.copyfile(other / name, out / f".{name}.other")
    os.replace(out / f".{name}.other", out / name)


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_workers_run_never_replaces_an_output_another_run_wrote_since_it_began(
        run_cli, make_raster, tmp_path, monkeypatch, command):
    """Two `predict -o out/ --overwrite --workers N` runs (other models) into one folder
    both exited 0 and left a mix of their outputs: the workers noted nothing. Now the
    outputs are noted before the tasks are sent, and a worker leaves one that another
    process wrote since as it is: the run fails in one line naming it."""
    from geotile import distributed as gd

    args, out, other = two_runs_outputs(run_cli, make_raster, tmp_path, command)
    theirs = (other / "t1.tif").read_bytes()
    real_client = gd._client

    def another_run_writes_t1(*given):  # after this run noted its outputs, before its tasks
        _another_run_writes(other, out, "t1.tif")
        return real_client(*given)

    monkeypatch.setattr(gd, "_client", another_run_writes_t1)
    result = run_cli(*args, "--workers", "1")
    assert_one_line_error(result, f"{out / 't1.tif'}:", "another process")
    assert (out / "t1.tif").read_bytes() == theirs


def test_a_workers_run_whose_written_output_another_run_replaces_fails(
        run_cli, make_raster, tmp_path, monkeypatch):
    """The caller checks at the end what its workers wrote: an output another process
    replaced after a worker wrote it fails the run (it is a mix of both runs')."""
    from geotile import distributed as gd

    args, out, other = two_runs_outputs(run_cli, make_raster, tmp_path, "predict")
    real_run_on = gd._run_on

    def another_run_writes_t0_after(*given):
        results = real_run_on(*given)
        _another_run_writes(other, out, "t0.tif")
        return results

    monkeypatch.setattr(gd, "_run_on", another_run_writes_t0_after)
    result = run_cli(*args, "--workers", "2")
    assert_one_line_error(result, f"{out / 't0.tif'}:", "replaced it after this run wrote it")
    assert (out / "t0.tif").read_bytes() == (other / "t0.tif").read_bytes()


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_worker_refuses_an_output_replaced_as_it_publishes_another(
        run_cli, make_raster, tmp_path, monkeypatch, command):
    """On a scheduler's in-process workers (threads here): the other run writes t1 as this
    run's worker publishes t0; t1 is left as the other run wrote it, and the run fails."""
    import logging

    from geotile import output_files

    args, out, other = two_runs_outputs(run_cli, make_raster, tmp_path, command)
    theirs = (other / "t1.tif").read_bytes()
    real_publish = output_files.publish

    def another_run_writes_t1(tmp, final, overwrite):
        if os.path.basename(final) == "t0.tif":
            _another_run_writes(other, out, "t1.tif")
        return real_publish(tmp, final, overwrite)

    monkeypatch.setattr(output_files, "publish", another_run_writes_t1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        result = run_cli(*args, "--scheduler", cluster.scheduler_address)
    assert_one_line_error(result, f"{out / 't1.tif'}:", "another process")
    assert (out / "t1.tif").read_bytes() == theirs


def test_label_raster_masks_on_workers_rewritten_by_the_run_itself_are_its_own(
        run_cli, make_raster, tmp_path):
    """make-masks labels.tif a.tif b.tif --workers 2 --overwrite: the caller rewrites a.tif's
    class list once b.tif's is known; that change of its own, after a worker wrote it, is
    no other process's: exit 0, both masks name all three classes."""
    import json

    from .test_output_safety import label_raster_of_two_tiles

    label, a, b = label_raster_of_two_tiles(make_raster)
    out = tmp_path / "out"
    assert run_cli("make-masks", label, a, b, "-o", out).exit_code == 0
    result = run_cli("make-masks", label, a, b, "-o", out, "--overwrite", "--workers", "2")
    assert result.exit_code == 0, result.output
    names = []
    for name in ("a.tif", "b.tif"):
        with rasterio.open(out / name) as src:
            names.append(json.loads(src.tags()["GEOTILE_CLASS_NAMES"]))
    assert names[0] == names[1] and len(names[0]) == 3


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_workers_runs_with_resume_overwrite_and_merge_keep_their_outputs(
        run_cli, make_raster, tmp_path, command):
    """The outputs noted before the tasks go out are the run's own to write: --resume over
    a finished run, then --overwrite, each with --workers and --merge, end well, and the
    merged raster is made of the tiles as they are."""
    args, out, _ = two_runs_outputs(run_cli, make_raster, tmp_path, command)
    args = args[:-1]  # without --overwrite
    merged = tmp_path / "merged.tif"
    for extra in (("--resume",), ("--overwrite",)):
        result = run_cli(*args, "--workers", "2", "--merge", merged, *extra)
        assert result.exit_code == 0, result.output
        with rasterio.open(merged) as src, rasterio.open(out / "t2.tif") as tile:
            assert (src.width, src.height) == (tile.width, tile.height)
            assert np.array_equal(src.read(), tile.read())
    assert "skipped" not in result.output


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_an_output_a_killed_run_of_the_same_command_puts_in_place_late_is_kept(
        run_cli, make_raster, tmp_path, monkeypatch, command):
    """A run killed (its client gone) leaves its tasks running on the cluster: one of them
    puts t0 in place after the --resume run's worker wrote it. That file is complete, of
    the same command over the same inputs (as the worker accepts one put in place before
    it publishes): the run ends well. One of another command is still refused (above)."""
    from geotile import distributed as gd

    args, out, _ = two_runs_outputs(run_cli, make_raster, tmp_path, command)
    twin = tmp_path / "twin"  # the killed run's task, as it wrote t0
    assert run_cli(*args[:args.index(out)], twin).exit_code == 0
    real_run_on = gd._run_on

    def the_killed_runs_task_publishes_t0(*given):
        results = real_run_on(*given)
        _another_run_writes(twin, out, "t0.tif")
        return results

    monkeypatch.setattr(gd, "_run_on", the_killed_runs_task_publishes_t0)
    (out / "t0.tif").unlink()  # the killed run had not written it
    result = run_cli(*args[:-1], "--resume", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert (out / "t0.tif").read_bytes() == (twin / "t0.tif").read_bytes()
