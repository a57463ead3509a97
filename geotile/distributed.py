"""Predict many rasters on a dask.distributed cluster: one task per image.

Each worker process loads the ONNX model once (one ONNX Runtime session per worker,
cached by model path and options) and runs :func:`geotile.predict.predict_raster` on
its images; inputs and outputs are paths every worker can reach (shared storage or
GDAL virtual paths). Outputs are written atomically by the worker, so each is
byte-identical to a single-process run, and those finished before an error are kept.
dask is optional: ``pip install 'geotile[dask]'``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

from geotile.cpus import usable_cpus
from geotile.errors import GeotileError, InputError, Interrupted
from geotile.gdal_settings import with_read_settings
from geotile.user_warnings import warn

#: per worker process: (model path, options) -> OnnxModel
_MODELS: dict = {}
#: held while a worker's thread looks a model up and loads it: the threads of a worker
#: load it once, and remove a replaced one's session once
_MODELS_LOCK = threading.Lock()

#: in the caller's process: a run's stop Event name -> the run's client. The tasks of an
#: in-process cluster (LocalCluster(processes=False)) reach the scheduler through it: the
#: client a worker would find (the process's default) may be another run's, closed meanwhile
_RUN_CLIENTS: dict = {}

DASK_MISSING = "--workers/--scheduler need dask: pip install 'geotile[dask]'"


def _model_key(model_path, model_options: dict) -> tuple:
    return (os.fspath(model_path),
            tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                         for k, v in model_options.items())))


def _file_identity(path) -> tuple:
    """What changes when a file is replaced or rewritten at the same path."""
    try:
        info = os.stat(path)
    except OSError:
        return ()  # OnnxModel.from_path says what is wrong
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _worker_model(model_path, model_options: dict):
    """The worker's cached OnnxModel for ``model_path`` and ``model_options``, as the file
    is now: a worker outlives commands, and a model retrained into the same path is loaded
    again (the session of its old version is dropped)."""
    from geotile.exporter_sidecars import sidecar_paths

    # Hugging Face's, MMDeploy's or Paddle's files beside it normalise its input and name
    # its classes
    key = (*_model_key(model_path, model_options), _file_identity(model_path),
           *(_file_identity(path) for path in sidecar_paths(model_path)))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            from geotile.model import OnnxModel

            for stale in [k for k in _MODELS if k[:2] == key[:2]]:
                del _MODELS[stale]
            # dask's nanny sets OMP_NUM_THREADS=1 in every worker: not the user's share, so
            # a worker's model takes the CPUs it may use unless told otherwise
            threads = model_options.get("threads") or usable_cpus()
            model = _MODELS[key] = OnnxModel.from_path(model_path,
                                                       **{**model_options, "threads": threads})
    return model


class SchedulerLost(GeotileError):
    """The connection to the run's dask scheduler was lost mid-run."""


#: seconds an interrupted run waits for the images running on the cluster to stop
STOP_WAIT_S = 10.0


#: GDAL options that the workers (other processes, other machines) read as the command
#: does: its GDAL_ERROR_ON_LIBJPEG_WARNING=TRUE (geotile.cli.main) and HTTP limits
#: (geotile.gdal_settings), or the user's own
WORKER_GDAL_OPTIONS = ("GDAL_ERROR_ON_LIBJPEG_WARNING", "GDAL_HTTP_CONNECTTIMEOUT",
                       "GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT",
                       "GDAL_HTTP_TIMEOUT")


class _RunNames:
    """The cluster-wide names of one run: ``stop`` (an Event: start no new image; set by
    the first failure), ``abort`` (an Event: the run was interrupted, running images stop
    and write nothing) and ``publish`` (a Lock held around each move into place); ``gdal``:
    the run's :data:`WORKER_GDAL_OPTIONS`, as set where it was started; ``code``: its
    geotile code fingerprint, which its tasks digest with (geotile.code_fingerprint)."""

    def __init__(self):
        from rasterio.env import get_gdal_config

        self.gdal = {key: value for key in WORKER_GDAL_OPTIONS
                     if (value := get_gdal_config(key)) is not None}
        run = uuid.uuid4().hex
        self.stop = f"geotile-stop-{run}"
        self.abort = f"geotile-abort-{run}"
        self.publish = f"geotile-publish-{run}"
        self.tag = run[:8]
        self.pid = os.getpid()  # the caller's process
        from geotile.code_fingerprint import code_files, content, fingerprint

        self.code = fingerprint()  # the workers' completion digests are the caller's ...
        self.files = code_files()  # ... made by the caller's code: other code is refused
        self.content = content(self.files)


def _run_client(names: _RunNames):
    """The run's own client where a task runs in the caller's process (None elsewhere: the
    worker's own)."""
    return _RUN_CLIENTS.get(names.stop) if os.getpid() == names.pid else None


def _lock(name: str, client):
    """The dask Lock ``name``, through ``client`` (None: the worker's or default client)."""
    from distributed import Lock

    if client is None:
        return Lock(name)
    return Lock(name, scheduler_rpc=client.scheduler, loop=client.loop)


def _let_go(lock) -> None:
    """Stop ``lock``'s lease refresh once it holds no lease: dask starts a periodic callback
    per Lock object that its event loop keeps (and with it the Lock) for the process's
    life, one per image on a worker. Stopped on that loop, after the start queued there."""
    callback = getattr(lock, "refresh_callback", None)  # absent with an infinite lease timeout
    if callback is not None:
        lock.loop.add_callback(callback.stop)


class _Guard:
    """geotile.output_files.RUN_GUARD of a task: the worker's link to its run's interruption."""

    def __init__(self, names: _RunNames):
        self.names = names
        self.tag = names.tag  # in the names of the run's temporary files
        self._next_check = 0.0

    def _aborted(self) -> bool:
        from distributed import Event

        return Event(self.names.abort, client=_run_client(self.names)).is_set()

    def check(self) -> None:
        import time

        now = time.monotonic()
        if now < self._next_check:  # a round trip to the scheduler: twice a second at most
            return
        self._next_check = now + 0.5
        if self._aborted():
            raise Interrupted("the run was interrupted")

    @contextlib.contextmanager
    def publishing(self):
        """Held around the move into place: the client takes the lock after setting
        ``abort``, so no output is moved once it has reported the run interrupted."""
        lock = _lock(self.names.publish, _run_client(self.names))
        if not lock.acquire(timeout=60):
            raise GeotileError("the run's scheduler did not answer; nothing was published")
        try:
            if self._aborted():
                raise Interrupted("the run was interrupted")
            yield
        finally:
            lock.release()
            _let_go(lock)


def _task(names: _RunNames, output: tuple, func, *args):
    """Run ``func(*args)`` on a worker, unless another task failed already: ``(result,
    [(warning text, category)], written)``, the warnings to show where the command runs (a
    worker's own stderr would print them raw, with a source line). A GeotileError comes back
    bare: its cause (a GDAL error) need not survive the way back, and the message says it
    all. Once the run is interrupted the task stops between blocks and publishes nothing.
    ``output``: (its output path as the task names it, the caller's note of it:
    geotile.output_files.noted_output); ``written``: its identity as the task left it."""
    from distributed import Event

    from geotile.code_fingerprint import SHIPPED
    from geotile.output_files import RUN_GUARD, task_output
    from geotile.quiet_warnings import recorded

    # another image failed, or Ctrl-C: start nothing new
    if Event(names.stop, client=_run_client(names)).is_set():
        return None, [], None
    failure = None
    token, code = RUN_GUARD.set(_Guard(names)), SHIPPED.set(names.code)
    try:
        if os.getpid() != names.pid:
            _check_same_code(names)
        import rasterio

        with rasterio.Env(**names.gdal), task_output(*output) as told:
            if os.getpid() == names.pid:  # a thread of the caller's process (an in-process
                # cluster): its filters are the caller's, and other tasks run beside
                with recorded() as caught:
                    result = func(*args)
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("default")
                    result = func(*args)
    except GeotileError as exc:
        failure = _rebuilt(exc)
        with contextlib.suppress(Exception):  # named where a path is seen differently
            from distributed import get_worker

            failure.worker = get_worker().address
    finally:
        RUN_GUARD.reset(token)
        SHIPPED.reset(code)
    if failure is not None:  # raised outside the handler: no context (a GDAL error) to carry
        raise failure
    # a library's deprecation notices are for developers: hidden here as Python hides them
    return result, [(str(w.message), w.category, _digest(w.message)) for w in caught
                    if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
                    ], told["written"]


def _check_same_code(names: _RunNames) -> None:
    """In a worker process: its geotile is the caller's code (another install of another
    version would write other outputs, tagged complete for the caller's code), and the
    code it loaded is still that on its disk."""
    import geotile
    from geotile import code_fingerprint

    if code_fingerprint.changed_since_read():
        from distributed import get_worker

        raise InputError(f"dask worker {get_worker().address}: its geotile "
                         f"({os.path.dirname(geotile.__file__)}) changed since the worker "
                         "read it (an upgrade or an edit: the modules it loaded are the old "
                         "code); restart the workers and run again.")
    if code_fingerprint.content(names.files) != names.content:
        from distributed import get_worker

        raise InputError(f"dask worker {get_worker().address} runs other geotile code "
                         f"({geotile.__version__} in {os.path.dirname(geotile.__file__)}) "
                         "than this command; install the same geotile on every worker and "
                         "run again.")


def _rebuilt(exc: GeotileError) -> GeotileError:
    """``exc`` from its message alone (no traceback, context or chain): of its own class,
    else of the nearest one whose constructor takes a message (BadClassIds -> InputError),
    which also unpickles where the results travel."""
    for cls in type(exc).__mro__:
        try:
            return cls(str(exc))
        except TypeError:  # a class of its own arguments
            continue
    raise exc


def _digest(message) -> tuple:
    """A GeotileWarning's file and shared advice (``about``, ``advice``), else ()."""
    about, advice = getattr(message, "about", None), getattr(message, "advice", None)
    return (about, advice) if about and advice else ()


def _predict_one(model_path, model_options, image, output, kwargs) -> dict:
    from geotile.predict import predict_raster

    model = _worker_model(model_path, model_options)
    return predict_raster(model, image, output, **kwargs)


def _mask_one(labels, image, output, kwargs) -> dict:
    from geotile.masks import make_masks

    return make_masks(labels, [image], [output], **kwargs)[0]


def _shared(path, remote: bool):
    """``path`` as text; a local one made absolute for workers on other machines (their
    working folder is not ours; shared storage is mounted at the same place), as is the
    local archive a GDAL path reads from (``/vsizip/tiles.zip/a.tif``) and the file of a
    subdataset's name (``SENTINEL2_L2A:<file>:10m:EPSG_32631``)."""
    from geotile.input_paths import absolute_subdataset, is_virtual_path, with_absolute_archive

    if path is None:
        return None
    text = os.fspath(path)
    if not remote:
        return text
    if (subdataset := absolute_subdataset(text)) is not None:  # SENTINEL2_L2A:<file>:10m:..
        return subdataset
    if not is_virtual_path(text):
        return os.path.abspath(text)
    return with_absolute_archive(text)


def _local_workers(workers: int | None, tasks: int) -> int | None:
    """The local workers to start for ``tasks`` images: no more than there are images (each
    worker gets its share of the memory, and one without an image is idle)."""
    return max(1, min(workers, tasks)) if workers else workers


def _client(workers: int | None, scheduler: str | None, scratch: str | None = None):
    """A dask Client (and the LocalCluster it owns, or None); the local cluster keeps its
    scratch space (dask-scratch-space/, its lock files) in the folder ``scratch``."""
    if workers and scheduler:
        raise InputError("give --workers (a local cluster) or --scheduler (a running one), "
                         "not both.")
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(DASK_MISSING) from None
    if scheduler:
        _check_port(scheduler)
        try:
            _check_handshake(scheduler)
            # never the process's default: a notebook's own Client stays its dask.compute's,
            # and an in-process worker's tasks never take a run's client that closes
            return Client(scheduler, set_as_default=False), None  # timeout: comm.timeouts
        except _NotAScheduler:
            raise InputError(f"--scheduler {scheduler}: answers, but is not a dask scheduler "
                             "(the dashboard's port?). Give the scheduler's address, e.g. "
                             "tcp://host:8786.") from None
        except ValueError as exc:
            raise InputError(f"--scheduler {scheduler}: {exc}. Give the scheduler's address, "
                             "e.g. tcp://host:8786.") from None
        except OSError as exc:
            raise InputError(f"{scheduler}: no dask scheduler answers ({exc}). Start one with "
                             "`dask scheduler` and workers with `dask worker ADDRESS`.") from None
        except Exception as exc:  # the comm layer: TLS without certificates, UCX without ucxx
            raise InputError(_comm_failure(scheduler, exc)) from None
    # the scheduler serves HTTP (health, metrics) even without a dashboard, by default on
    # 8787: a random local port, so that another cluster there is no 'Port 8787' warning
    cluster = client = None
    try:
        import dask

        with _ctrl_c_held(), dask.config.set({"temporary-directory": scratch} if scratch
                                             else {}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address="127.0.0.1:0",
                                   scheduler_kwargs={"dashboard": False},
                                   silence_logs=logging.CRITICAL)
        client = Client(cluster, set_as_default=False)
        client.run(_quiet_asyncio)
        return client, cluster
    except BaseException:  # Ctrl-C as it starts: the cluster is not left running
        with contextlib.suppress(Exception):
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        raise


def _quiet_asyncio() -> None:
    """In geotile's own local worker processes: the futures dask leaves unread when a run is
    stopped ("Future exception was never retrieved ... TimeoutError") are not the user's,
    as in the console process (geotile.cli.main.main)."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def _ctrl_c_held():
    """Ctrl-C in a terminal reaches every process of its group: the local workers started
    in the block inherit SIGINT blocked (from the threads that start them), so that they do
    not die mid-image with a traceback each; geotile itself stops them. A Ctrl-C that
    reaches geotile meanwhile is held, not dropped: it goes to the SIGINT handler of
    before (KeyboardInterrupt) as the block ends."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None)):
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    blocks = hasattr(signal, "pthread_sigmask")  # POSIX; threads started here inherit it
    if blocks:  # started from dask's thread, the resource tracker would unblock SIGINT there
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocks else None
    try:
        yield
    finally:
        if blocks:  # a held SIGINT reaches the handler above here (no sigwait: it can hang)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, previous)
        if pressed:
            signal.raise_signal(signal.SIGINT)


def _check_port(scheduler: str) -> None:
    """An address whose port cannot exist is refused at once (not after a 30 s timeout)."""
    import re

    match = re.fullmatch(r"[a-z0-9+.-]+://(?:\[[^\]]*\]|[^:/\[\]]*):(\d+)/?", scheduler.strip(),
                         flags=re.IGNORECASE)
    if match and not 1 <= int(match.group(1)) <= 65535:
        raise InputError(f"--scheduler {scheduler}: port {int(match.group(1))} does not exist "
                         "(ports are 1-65535). Give the scheduler's address, e.g. "
                         "tcp://host:8786.")


class _NotAScheduler(Exception):
    """The address answers, but not as a dask scheduler."""


def _check_handshake(scheduler: str) -> None:
    """Connect once and read the scheduler's handshake, within the connect timeout: dask's
    Client waits for it without limit, for ever at an HTTP server (the dashboard's port)."""
    import asyncio
    import concurrent.futures

    import dask
    from dask.utils import parse_timedelta
    from distributed.comm import connect

    limit = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")

    async def handshake():
        try:
            comm = await connect(scheduler, timeout=limit)
        except MemoryError:  # the first bytes read as a frame length: not dask's protocol
            raise _NotAScheduler from None
        await comm.close()

    async def bounded():
        try:  # connect's own retries end by limit; the handshake read has none
            await asyncio.wait_for(handshake(), limit + 1)
        except asyncio.TimeoutError:
            raise _NotAScheduler from None

    # a thread of its own: the caller may run an event loop already (a notebook)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, bounded()).result()


def _comm_failure(scheduler: str, exc: Exception) -> str:
    """One line for a scheduler address dask's comm layer cannot connect to."""
    scheme = scheduler.split("://", 1)[0].lower() if "://" in scheduler else ""
    if scheme in ("tls", "wss"):
        how = ("TLS needs certificates: set distributed.comm.tls.ca-file, "
               "distributed.comm.tls.client.cert and .key in dask's configuration "
               "(e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE), or give a tcp:// address")
    elif scheme == "ucx":
        how = ("UCX needs the distributed-ucxx package on this machine and the workers, "
               "or give a tcp:// address")
    else:
        how = "give a tcp://host:port address"
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"--scheduler {scheduler}: cannot connect ({reason}). {how[0].upper()}{how[1:]}."


@with_read_settings
def predict_rasters(
    model_path: str | os.PathLike,
    images: Sequence[str | os.PathLike],
    outputs: Sequence[str | os.PathLike],
    *,
    options=None,
    model_options: dict | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    extra_bands: Sequence | None = None,
    extra_resampling: str = "auto",
    settings: dict | None = None,
    progress: bool = False,
) -> list[dict]:
    """Predict each of ``images`` into the matching ``outputs`` path on a dask cluster.

    ``workers``: start a LocalCluster of that many single-threaded worker processes;
    ``scheduler``: the address of a running scheduler (e.g. ``tcp://host:8786``).
    ``model_options``: keyword arguments of :meth:`OnnxModel.from_path` (providers,
    mean, std, ...). Other arguments as in :func:`geotile.predict.predict_raster`.
    The first failing image raises its error: images not yet started are skipped,
    those running finish, finished outputs are kept. Returns the summaries in the order
    of ``images``.
    """
    from geotile.input_files import check_pairs, path_list

    images, outputs = path_list(images), path_list(outputs)
    check_pairs(images, outputs)
    extra_bands = list(extra_bands) if extra_bands else [None] * len(images)
    from geotile.input_sources import refuse_overwriting_inputs

    refuse_overwriting_inputs(outputs, [model_path, *images, *(
        p for e in extra_bands for p in (e if isinstance(e, list | tuple) else [e]))])
    model_options = dict(model_options or {})
    threads = None
    if workers:  # share the machine's cores between the local workers
        threads = max(1, usable_cpus() // _local_workers(workers, len(images)))
    model_options.setdefault("threads", threads)
    if options is not None:
        model_options.setdefault("tile_size", options.tile_size)
        model_options.setdefault("batch_size", options.batch_size or 1)
    remote = scheduler is not None
    calls = [(_predict_one, _shared(model_path, remote), model_options,
              _shared(image, remote), _shared(output, remote),
              {"options": options, "overwrite": overwrite, "progress": False,
               "extra_bands": [_shared(e, remote) for e in extra] if isinstance(
                   extra, list | tuple) else _shared(extra, remote),  # a list: dates
               "extra_resampling": extra_resampling,
               "resume": resume, "settings": settings})
             for image, output, extra in zip(images, outputs, extra_bands, strict=True)]
    given = [(image, output, model_path, *(extra if isinstance(extra, list | tuple)
                                           else [extra]))  # a list: each date's
             for image, output, extra in zip(images, outputs, extra_bands, strict=True)]
    return _run(calls, images, outputs, workers, scheduler, progress, given)


@with_read_settings
def make_masks_on_cluster(
    labels_path: str | os.PathLike,
    images: Sequence[str | os.PathLike],
    outputs: Sequence[str | os.PathLike],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    **kwargs,
) -> list[dict]:
    """:func:`geotile.masks.make_masks` with one task per image on a dask cluster
    (``workers``/``scheduler`` as in :func:`predict_rasters`); each task reads the labels
    near its image. ``kwargs``: those of make_masks. Summaries in the order of ``images``.
    """
    from geotile.input_files import check_pairs, path_list

    images, outputs = path_list(images), path_list(outputs)
    check_pairs(images, outputs)
    from geotile.ignore_regions import pair_regions

    # each image's --ignore regions, paired and checked once, before any task
    kwargs = {**kwargs, "ignore": pair_regions(kwargs.get("ignore"), images)}
    from geotile.pixel_label_formats import pixel_label_format
    from geotile.stac_catalogs import is_catalog

    catalog = is_catalog(labels_path)  # each image's label item
    if not catalog and pixel_label_format(labels_path, kwargs.get("layer"), images) is not None:
        # small files, read and checked together (the run's class names): burnt in this
        # process
        from geotile.masks import make_masks

        return make_masks(labels_path, images, outputs, progress=progress, **kwargs)
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.label_folders import is_label_folder, pairs_label_rasters, plan
    from geotile.stac_labels import item_labels, label_item

    palette = kwargs.get("palette")
    if isinstance(palette, str | os.PathLike):
        from geotile.label_rasters import read_palette

        # read in the user's folder: a worker's has no ./fbp to tell the bare name
        # 'fbp' (refused beside that file) from the built-in palette
        read_palette(palette)
    files = [labels_path] * len(images)
    item = None if catalog else label_item(labels_path)  # each task reads the item itself
    read, checked = labels_path, kwargs
    if item is not None:
        read, field, mapping, _ = item_labels(item, kwargs.get("class_field"),
                                              kwargs.get("class_map"), None)
        checked = {**kwargs, "class_field": field, "class_map": mapping}
    folder = catalog or is_label_folder(labels_path, kwargs.get("layer")) \
        or pairs_label_rasters(labels_path, images)
    if folder:  # each image's own label file, class values of the whole run
        if catalog:
            from geotile.stac_catalogs import plan
        files, values = plan(labels_path, images, outputs, **{
            k: kwargs.get(k) for k in ("class_field", "class_map", "labels_crs", "layer",
                                       "overwrite", "resume", "where")})
        kwargs = {**kwargs, "class_values": values}
    else:  # one task per image: one file of pixel coordinates would label each the same
        from geotile.label_rasters import refuse_raster_folder
        from geotile.labels import whole_class_values

        # a folder of label rasters not named after every image: refused before any task,
        # which would take the raster of its own image's name
        refuse_raster_folder(labels_path)
        from geotile.pixel_labels import is_pixels, one_image

        if is_pixels(kwargs.get("labels_crs")):
            one_image(labels_path, images)
        elif checked.get("class_field") is not None and len(images) > 1 \
                and kwargs.get("where") is None:
            # the names of the whole file, read here once, not by every task (--where: of
            # the features it selects, read by each)
            kwargs = {**kwargs, "whole_values": whole_class_values(
                read, checked["class_field"], kwargs.get("layer"))}
    regions = [f for own in kwargs["ignore"].files for f in own] if kwargs["ignore"] else []
    refuse_overwriting_inputs(outputs, [*dict.fromkeys(files), read, *images, *(
        [palette] if isinstance(palette, str | os.PathLike) and palette != "potsdam" else []),
        *dict.fromkeys(regions)])
    from geotile.label_order import OrderLostWarning, warn_order_lost
    from geotile.label_rasters import is_label_raster
    from geotile.palettes import PALETTES

    groups: dict = {}  # the labels read, their images, as each task reads them
    if catalog:
        rasters = False
        for path, image in zip(files, images, strict=True):
            one = label_item(path)
            if path not in groups:
                own, field, mapping, _ = item_labels(one, kwargs.get("class_field"),
                                                     kwargs.get("class_map"), None)
                groups[path] = (own, {**kwargs, "class_field": field,
                                      "class_map": mapping}, [])
            groups[path][2].append(image)
            rasters = one.raster
    else:
        groups[labels_path] = (read, checked, images)
    for own, own_kwargs, group in groups.values():
        _check_placeable(own, group, own_kwargs)
    if kwargs.get("labels_crs") is None:  # a guessed CRS judged on the whole run, not
        from geotile.masks import check_guessed_crs  # on each task's one image

        by_file: dict = {}
        for path, image in zip(files, images, strict=True):
            by_file.setdefault(path, []).append(image)
        for own, own_kwargs, group in (groups.values() if catalog or not folder else (
                (path, kwargs, group) for path, group in by_file.items())):
            check_guessed_crs(own, group, own_kwargs)
        kwargs = {**kwargs, "guess_checked": True}
    if not folder and not is_label_raster(read) and kwargs.get("where") is not None:
        from geotile.label_filter import check_where  # each task reads it: refused once,
        from geotile.labels import field_schema

        check_where(read, kwargs["where"],  # before any mask
                    field_schema(read, kwargs.get("layer")))
    remote = scheduler is not None
    kwargs = {**kwargs, "progress": False}
    if isinstance(palette, str | os.PathLike) and str(palette).lower() not in PALETTES:
        kwargs["palette"] = _shared(palette, remote)  # a file: found from the workers' folder
    ignore = kwargs.pop("ignore")
    calls = [(_mask_one, _shared(labels, remote), _shared(image, remote),
              _shared(output, remote), {**kwargs, "ignore": ignore.take([i]).mapped(
                  lambda f: _shared(f, remote)) if ignore else None})
             for i, (labels, image, output) in enumerate(zip(files, images, outputs,
                                                             strict=True))]
    given = [(image, output, labels, palette if isinstance(palette, str | os.PathLike)
              else None) for labels, image, output in zip(files, images, outputs, strict=True)]
    # each task warns of the FlatGeobuf's lost order on its image: said once, of them all
    lost: list[int] = []
    summaries = _run(calls, images, outputs, workers, scheduler, progress, given,
                     gather=None if folder else (OrderLostWarning, lost))
    if lost:
        warn_order_lost(read, [images[i] for i in sorted(lost)])
    if folder:
        from geotile.masks import named_labels

        summaries = [named_labels(s, labels) for s, labels in zip(summaries, files, strict=True)]
    from geotile.label_rasters import same_class_lists

    if rasters if catalog else is_label_raster(read):  # each task named the ids under its
        same_class_lists(summaries)  # own image
    return summaries


def _check_placeable(read, images, kwargs) -> None:
    """make_masks' refusals of ``images`` that labels ``read`` cannot be placed on, as in
    one process: before any mask is written."""
    from geotile.label_rasters import is_label_raster

    if is_label_raster(read):
        from geotile.label_rasters import check_placeable as check_raster_placeable

        check_raster_placeable(read, images)
    else:
        from geotile.masks import check_placeable

        check_placeable(read, images, labels_crs=kwargs.get("labels_crs"),
                        layer=kwargs.get("layer"), class_field=kwargs.get("class_field"),
                        class_map=kwargs.get("class_map"))


def _run(calls: list[tuple], images, outputs, workers, scheduler, progress: bool,
         given: list[tuple] | None = None, gather: tuple | None = None) -> list:
    """Run each ``(func, *args)`` of ``calls`` (reading ``images``, writing ``outputs``) as
    one task; results in order. The first GeotileError is raised once the tasks already
    running have finished (their outputs are atomic: none is killed half-written); tasks not
    started are skipped. Ctrl-C/SIGTERM stops the running tasks too, and none publishes
    after it. ``given``: per call, the paths it names as the user gave them (its messages
    name them so); ``gather``: (a warning category, a list): the tasks' warnings of it are
    not said, their numbers are added to the list, for the caller to say one for all."""

    from geotile.progress import progress_bar

    client = cluster = None
    names = _RunNames()
    if given is None:
        given = list(zip(images, outputs, strict=True))
    scratch = None if scheduler else _scratch_folder()
    with _process_state():
        try:
            client, cluster = _client(_local_workers(workers, len(calls)), scheduler, scratch)
            _RUN_CLIENTS[names.stop] = client
            return _run_on(client, names, scheduler, calls, images, outputs, progress,
                           progress_bar, given, gather)
        finally:
            _RUN_CLIENTS.pop(names.stop, None)
            try:
                if client is not None:
                    client.close()
                if cluster is not None:
                    cluster.close()
            finally:  # a worker killed mid-image, or one that outlived the stop, left them
                if client is not None:
                    remove_temporaries(outputs, names.tag)
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)


#: the runs under way in this process, and what the first of them found (see _process_state)
_STATE_LOCK = threading.Lock()
_STATE: dict = {"runs": 0}


@contextlib.contextmanager
def _process_state():
    """Around a run: asyncio's log and distributed.client's quiet (dask's own futures left
    unread when a run is interrupted under load, "Future exception was never retrieved", are
    not the user's; a lost scheduler is one line, SchedulerLost, not the client's logged
    tracebacks), and ``os.environ`` back as it was after (dask's nanny sets
    OMP_NUM_THREADS=1... here for its workers), as are multiprocessing's start method and
    distributed's cache of its servers' methods (see :func:`_release_servers`). Saved by the
    first of the runs at once in this process (threads) and restored by the last: each saving
    and restoring its own would put back what another run had changed."""
    import logging
    import multiprocessing

    loggers = [logging.getLogger("asyncio"), logging.getLogger("distributed.client")]
    with _STATE_LOCK:
        if _STATE["runs"] == 0:
            with contextlib.suppress(ImportError):  # its import sets the client's level
                import distributed.client  # noqa: F401
            _STATE["environ"] = dict(os.environ)
            _STATE["levels"] = [log.level for log in loggers]
            _STATE["start"] = multiprocessing.get_start_method(allow_none=True)
            for log in loggers:
                log.setLevel(logging.CRITICAL)
        _STATE["runs"] += 1
    try:
        yield
    finally:
        with _STATE_LOCK:
            _STATE["runs"] -= 1
            if _STATE["runs"] == 0:  # the user's own logging config and environment again
                for log, level in zip(loggers, _STATE["levels"], strict=True):
                    log.setLevel(level)
                _restore_environ(_STATE["environ"])
                if _STATE["start"] is None:  # fixed by Python's spawn of a worker
                    multiprocessing.set_start_method(None, force=True)
                _release_servers()


def _release_servers() -> None:
    """Each run's scheduler, nanny and worker objects freed: distributed caches
    ``_expects_comm`` of their bound methods for good, which kept every one alive, with its
    log handler on the 'distributed.scheduler' logger (one more per run)."""
    core = sys.modules.get("distributed.core")
    cache_clear = getattr(getattr(core, "_expects_comm", None), "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


def _restore_environ(environ: dict) -> None:
    """``os.environ`` as ``environ`` again (the variables a local cluster set or changed)."""
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    for name, value in environ.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _scratch_folder() -> str:
    """A new folder for a local cluster's scratch space, where dask would put it (its
    temporary-directory setting, else TMPDIR): removed with the cluster, not left behind."""
    import tempfile

    try:
        import dask
    except ImportError:  # said as the cluster starts
        return tempfile.mkdtemp(prefix="geotile-dask-")
    folder = dask.config.get("temporary-directory", None)
    if folder:  # made if missing, as dask makes it
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{folder} (dask's temporary-directory): cannot be made "
                             f"({exc.strerror}). Set DASK_TEMPORARY_DIRECTORY to a writable "
                             "folder.") from exc
    return tempfile.mkdtemp(prefix="geotile-dask-", dir=folder)


def _run_on(client, names: _RunNames, scheduler, calls, images, outputs, progress: bool,
            progress_bar, given, gather: tuple | None = None) -> list:
    """:func:`_run` on a connected ``client``."""
    from concurrent.futures import CancelledError

    from distributed import Event, as_completed
    from distributed.scheduler import KilledWorker

    from geotile.output_files import note_task_output, noted_output

    # each task takes its output as this run noted it: never replaced once another wrote it
    futures = [client.submit(_task, names, (_shared(output, scheduler is not None),
                                            noted_output(output)), *call, pure=False)
               for call, output in zip(calls, outputs, strict=True)]
    index = {future.key: i for i, future in enumerate(futures)}
    results: list = [None] * len(futures)
    with progress_bar(enabled=progress, total=len(futures), unit="image") as bar:
        try:
            for future in as_completed(futures, loop=client.loop):
                try:
                    results[index[future.key]], caught, written = future.result()
                except GeotileError as exc:
                    Event(names.stop, client=client).set()
                    _wait_all(client, futures)
                    text = str(exc)
                    if scheduler:  # the workers were given the paths made absolute
                        text = _text_as_given(str(_seen_from_here(exc)),
                                              *given[index[future.key]])
                    raise type(exc)(f"{text}{_kept(futures, results, outputs)}") from None
                except KilledWorker:  # each worker that ran it died: out of memory?
                    Event(names.stop, client=client).set()
                    _wait_all(client, futures)
                    raise InputError(
                        f"{images[index[future.key]]}: the dask worker running it died "
                        "(out of memory?) on every try; nothing was written under its "
                        "name. Run again with fewer --workers or on workers with more "
                        "memory (predict: or a smaller --batch-size or --block-size)."
                        f"{_kept(futures, results, outputs)}"
                    ) from None
                except CancelledError:  # the scheduler stopped: dask cancels every future
                    where = f"--scheduler {scheduler}" if scheduler else "--workers"
                    raise SchedulerLost(
                        f"{where}: the connection to the dask scheduler was lost (it stopped, "
                        "or the network failed) before every image was done."
                        f"{_kept(futures, results, outputs)} Run again with --resume: the "
                        "complete outputs are kept, the others made.") from None
                number = index[future.key]
                note_task_output(outputs[number], written)  # checked at the run's end
                if scheduler:  # the workers were given them made absolute
                    results[number] = _as_given(results[number], images[number],
                                                outputs[number])
                    caught = [(_text_as_given(text, *given[number]), category, digest)
                              for text, category, digest in caught]
                name = Path(images[number]).name
                if gather is not None and any(issubclass(c, gather[0]) for _, c, _ in caught):
                    gather[1].append(number)
                    caught = [w for w in caught if not issubclass(w[1], gather[0])]
                for text, category, digest in caught:  # among many images, say whose it is
                    text = text if name in text else f"{name}: {text}"
                    if digest and Path(digest[0]).name != name:  # of the labels file, said
                        digest = (name, digest[1])  # by each task: once, the others named
                    # with its file and advice, as in one process (the CLI's digest)
                    warn(category(text, *digest) if digest else text, category)
                bar.update()
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM: stop everything now
            raise _interrupt(client, futures, names, outputs, results) from None
        except BaseException:
            if client.status == "running":  # not when the scheduler is gone: none to ask
                _interrupt(client, futures, names, outputs, results)
            raise
    if scheduler:
        _check_visible(outputs)
    return results


def _wait_all(client, futures, timeout: float | None = None) -> None:
    """``distributed.wait(futures, timeout)`` on the run's own ``client`` (wait asks the
    process's default client, which a run's client never is: see :func:`_client`)."""
    from distributed import as_completed

    for _ in as_completed(futures, loop=client.loop, timeout=timeout):
        pass


def _as_given(result, image, output):
    """A worker's summary with the image and output paths as the user gave them (the
    workers of --scheduler get them made absolute: :func:`_shared`)."""
    if not isinstance(result, dict):
        return result
    given = {"image": image, "output": output}
    return {key: os.fspath(given[key]) if key in given and value is not None else value
            for key, value in result.items()}


def _text_as_given(text: str, *paths) -> str:
    """A worker's message naming ``paths`` made absolute (:func:`_shared`), with each path
    as given."""
    from geotile.input_paths import absolute_subdataset, is_virtual_path

    pairs = {_shared(p, True): os.fspath(p) for p in paths if p is not None}
    for path in [os.fspath(p) for p in paths if p is not None]:  # and each one's folder
        folder = os.path.dirname(path)  # ('out' of out/a.tif: an output folder's messages)
        if folder not in ("", ".") and not is_virtual_path(path) \
                and absolute_subdataset(path) is None:
            pairs.setdefault(_shared(folder, True), folder)
    for shared in sorted(pairs, key=len, reverse=True):  # /a/b.tif before /a/b
        if shared != pairs[shared]:
            text = text.replace(shared, pairs[shared])
    return text


def remove_temporaries(outputs, tag: str) -> list[str]:
    """Remove the temporary files atomic_output made for ``outputs`` in the run tagged
    ``tag`` (``.<stem>.<tag>-<8 hex>.tmp<suffix>`` and the files GDAL and geotile put beside
    them: ``.aux.xml``, ...); nothing else. Returns the paths removed."""
    import re

    from geotile.input_paths import is_virtual_path
    from geotile.output_files import temporary_stem

    wanted: dict[str, set[tuple[str, str]]] = {}
    for output in outputs:
        text = os.fspath(output)
        if is_virtual_path(text):
            continue
        stem, suffix = os.path.splitext(os.path.basename(text))
        stem = temporary_stem(stem)  # as atomic_output names its temporary file
        wanted.setdefault(os.path.dirname(os.path.abspath(text)), set()).add((stem, suffix))
    pattern = re.compile(r"\.(.+)\." + re.escape(tag) + r"-[0-9a-f]{8}\.tmp(.*)", re.DOTALL)
    removed = []
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if not match:
                continue
            stem, rest = match.groups()
            if not any(stem == s and rest.startswith(x) and
                       (rest == x or rest[len(x)] == ".") for s, x in names
                       if len(rest) >= len(x)):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def _seen_from_here(exc: GeotileError) -> GeotileError:
    """A worker's error about a path this machine sees otherwise (a missing input that is
    here, an output in the way that is not): said to be the worker's view, with the fix."""
    worker = getattr(exc, "worker", None)
    where, _, rest = str(exc).partition(": ")
    path = where.removeprefix("--extra-bands ")
    if worker is None or not path:
        return exc
    shared = ("--scheduler needs inputs and outputs on storage shared with every worker, "
              "mounted at the same path.")
    if rest.startswith("no such file") and os.path.exists(path):
        return type(exc)(f"{where}: no such file on dask worker {worker}, though it exists "
                         f"here; {shared}")
    if rest.startswith("already exists") and not os.path.lexists(path):
        return type(exc)(f"{where}: already exists on dask worker {worker}, though not "
                         f"here; {shared}")
    if rest.startswith(_UNWRITABLE) and _writable_here(path):
        return type(exc)(f"{where}: dask worker {worker} may not write there, though this "
                         "machine can. Run the workers as a user who may write to it (on a "
                         "read-write mount), or choose an output folder they can write.")
    return exc


#: the starts of geotile.output_files' messages on an output folder it cannot make or write
_UNWRITABLE = ("cannot create the output folder", "the output folder is not writable")


def _writable_here(folder: str) -> bool:
    """Whether this process could make ``folder`` or write in it."""
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
    return os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)


def _check_visible(outputs) -> None:
    """Each output the workers reported is here too: a worker without the share writes on
    its own disk (a path every worker reaches is not one this machine reaches)."""
    from geotile.input_paths import is_virtual_path

    missing = [os.fspath(o) for o in outputs
               if not is_virtual_path(os.fspath(o)) and not os.path.exists(o)]
    if missing:
        raise InputError(f"{missing[0]}: written by a dask worker but not visible here "
                         f"({len(missing)} of {len(outputs)} outputs); --scheduler needs "
                         "inputs and outputs on storage shared with every worker, mounted "
                         "at the same path.")


def _kept(futures, results: list, outputs) -> str:
    """' N output(s) were finished and are kept: a.tif, ...' for the tasks of ``futures``
    that wrote their output (``results``: the summaries read so far); '' when none did."""
    kept = []
    for i, future in enumerate(futures):
        summary = results[i]
        if summary is None and future.status == "finished":
            with contextlib.suppress(Exception):  # the scheduler may be gone
                summary = future.result(timeout=5)[0]
        if isinstance(summary, dict) and not summary.get("skipped"):
            kept.append(os.path.basename(os.fspath(outputs[i])))
    if not kept:
        return ""
    shown = ", ".join(kept[:10]) + (", ..." if len(kept) > 10 else "")
    return f" {len(kept)} output(s) were finished and are kept: {shown}."


def _interrupt(client, futures, names: _RunNames, outputs, results: list) -> Interrupted:
    """Stop the run's tasks: none starts, those running stop between blocks and publish
    nothing; wait up to STOP_WAIT_S for them. The Interrupted to raise says what is true."""
    import signal
    import threading

    from distributed import Event

    ignored = {}
    if threading.current_thread() is threading.main_thread():  # a second Ctrl-C waits too
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                ignored[name] = signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        sealed = False
        try:
            Event(names.stop, client=client).set()
            Event(names.abort, client=client).set()
            # once held, every later publish sees ``abort``: none happens after this
            lock = _lock(names.publish, client)
            sealed = lock.acquire(timeout=STOP_WAIT_S)
            if sealed:
                lock.release()
            _let_go(lock)
            with contextlib.suppress(TimeoutError):
                _wait_all(client, futures, STOP_WAIT_S)
        except Exception:  # the scheduler is gone
            pass
        # a result read here is kept, even where dask recomputes it (its worker died)
        running = [future for future, result in zip(futures, results, strict=True)
                   if not future.done() and result is None]
        kept = _kept(futures, results, outputs)
        with contextlib.suppress(Exception):
            client.cancel(futures)
    finally:
        for name, handler in ignored.items():
            signal.signal(getattr(signal, name), handler)
    position = {future.key: i for i, future in enumerate(futures)}
    shown = ", ".join(os.path.basename(os.fspath(outputs[position[f.key]]))
                      for f in running[:5]) + (", ..." if len(running) > 5 else "")
    if not sealed:
        return Interrupted(f"interrupted, but the scheduler did not answer in time: the "
                           f"{len(running)} image(s) still running on the cluster ({shown}) "
                           f"may yet be written.{kept}")
    if running:
        return Interrupted(f"interrupted; {len(running)} image(s) still running on the "
                           f"cluster ({shown}) did not stop within {STOP_WAIT_S:g} s: they "
                           f"will write nothing (they stop at their next block).{kept}")
    return Interrupted("interrupted; the images running on the cluster were stopped and "
                       "nothing was written under their names; no output was left "
                       f"half-written.{kept}")
