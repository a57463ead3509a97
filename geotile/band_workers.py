"""Run independent per-band jobs in forked worker processes, results in job order.

GDAL's polygonizer holds Python's GIL, so threads cannot spread vectorize over cores; worker
processes can. They are forked (cheap: the parent's imports are inherited), and only where
that is safe: on Linux, from a process running no other Python thread, with more than one
CPU and more than one job. Anywhere else the jobs run here, one after the other, with the
same results. Workers read their own pixels (nothing large is pickled), ignore Ctrl-C (the
parent stops them) and use no GDAL thread pool of the parent's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from geotile.cpus import usable_cpus
from geotile.errors import GeotileError

#: more workers than this gain little: the parent merges and writes what they find
MAX_WORKERS = 8


def worker_count(jobs: int, workers: int | None = None) -> int:
    """How many processes to fork for ``jobs`` jobs (0: run them here). ``workers`` caps it
    (None: the usable CPUs, at most :data:`MAX_WORKERS`)."""
    if workers is None:
        workers = min(usable_cpus(), MAX_WORKERS)
    if jobs < 2 or workers < 2 or not sys.platform.startswith("linux"):
        return 0
    if threading.active_count() > 1:  # a fork copies no other thread: its locks could hang
        return 0
    import multiprocessing

    if multiprocessing.current_process().daemon:  # a pool's worker may not have children
        return 0
    return min(workers, jobs)


#: the signals a worker handles otherwise than its parent: held back across the fork
_WORKER_SIGNALS = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                            if hasattr(signal, name))


def _quiet_worker(parent: int | None = None, mask: set | None = None) -> None:
    """Ctrl-C is the parent's to handle; SIGTERM (the parent stopping a worker) ends it,
    whatever handler the parent had installed (the command's raises KeyboardInterrupt), and
    so does SIGHUP unless the parent ignores it (``nohup``).
    The worker ends with its ``parent`` (pid), however it ends: killed (SIGKILL, the OOM
    killer), it can no longer stop its workers, which would wait for jobs forever.
    Forked with those signals held back (:func:`_held_signals`), the worker takes one that
    came meanwhile only now, under its own handlers; ``mask`` is the parent's own mask."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        # a hang-up the parent ignores (nohup) is the workers' to ignore too: the terminal's
        # reaches them (its process group) and would end the run ('a worker process died')
        number = getattr(signal, name, None)
        if number is not None and not (name == "SIGHUP"
                                       and signal.getsignal(number) is signal.SIG_IGN):
            signal.signal(number, signal.SIG_DFL)
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    _end_with_parent(parent)


@contextlib.contextmanager
def _held_signals() -> Iterator[set | None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back in this thread while workers are forked, so that
    none reaches a new worker before its set-up (:func:`_quiet_worker`) replaces the handlers
    it inherits; yields the mask to restore (None where signals cannot be held). One that
    came meanwhile reaches this process when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield None
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)
    try:
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


#: prctl's option that sends the calling process a signal when its parent dies (Linux)
_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int | None) -> None:
    """Have the kernel kill this (forked) process when its parent dies; exit now when the
    parent ``parent`` died already (between the fork and this call)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _in_worker(function: Callable, job):
    """``function(job)`` without GDAL threads (a pool the parent started is not in the fork);
    an error comes back as itself, without its chain (:func:`_portable`)."""
    import rasterio

    with rasterio.Env(GDAL_NUM_THREADS="1"):
        try:
            return function(job)
        except Exception as exc:
            failure = _portable(exc)
    raise failure  # outside the handler: no context chained to it


def _portable(exc: Exception) -> Exception:
    """``exc`` without its cause and context, so that it survives the trip back to the
    parent; else a RuntimeError with its type and message. (Where tblib's pickling is
    installed, by dask, a chained GDAL error fails to unpickle there: the pool breaks and
    hides what went wrong.)"""
    import pickle

    exc.__cause__ = exc.__context__ = exc.__traceback__ = None
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def run_jobs(function: Callable, jobs: Sequence, workers: int | None = None,
             ) -> Iterator[Iterator]:
    """``with run_jobs(f, jobs) as results:`` -> ``f(job)`` for each job, in order. Forked
    workers start at once (the caller may do other work before reading ``results``); an
    error in a job is raised where its result is read. Leaving the block normally waits
    for the workers to exit; leaving it by an exception (Ctrl-C, an error) stops them at
    once (they hold no output)."""
    count = worker_count(len(jobs), workers)
    if not count:
        yield (function(job) for job in jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    executor = None
    try:
        with _held_signals() as mask:  # the workers are forked at the first submit
            executor = ProcessPoolExecutor(
                count, mp_context=multiprocessing.get_context("fork"),
                initializer=_quiet_worker, initargs=(os.getpid(), mask))
            # submitted here, not by executor.map: an interrupted map cancels the waiting
            # futures, which the stopped pool then fails, and Python 3.11's management
            # thread prints "InvalidStateError: CANCELLED" for each (fixed in 3.12)
            futures = list(_results(executor.submit(_in_worker, function, job)
                                    for job in jobs))
        yield _results(future.result() for future in futures)
    except BaseException:
        if executor is not None:
            _stop(executor)
        raise
    executor.shutdown(wait=True, cancel_futures=True)


def _stop(executor) -> None:
    """End ``executor``'s workers now, not after their running jobs (a share of the raster
    each); its management thread then sees them gone and exits, so nothing waits at exit
    (nor at its shutdown, when one was stopped halfway through sending a result)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(5)
            if process.exitcode is None:
                process.kill()
                process.join(5)
    # a worker stopped while it sent its result leaves the management thread waiting for
    # the rest, forever while this process holds the pipe's other end (workers write there,
    # never the parent): closed, the reader gets EOF, takes the pool as broken and ends
    if all(process.exitcode is not None for process in processes):
        with contextlib.suppress(AttributeError, OSError):
            executor._result_queue._writer.close()
    executor.shutdown(wait=True, cancel_futures=True)


def _results(results: Iterator) -> Iterator:
    """``results`` (or submissions) with a worker that died (killed for memory...) as one
    clear error."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield from results
    except BrokenProcessPool as exc:
        raise GeotileError("a worker process died (out of memory?); run again with fewer "
                           "workers (--workers 1: this process only).") from exc
