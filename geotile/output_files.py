"""Writing output files safely: checks before any work (may it be written, is the folder
writable), atomic writes under a temporary name, verified and renamed into place, the
run's interruption guard, and COG output."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import os
import re
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from geotile.creation_options import (
    BIGTIFF,
    COMPRESSION_PROFILES,
    cog_creation_options,
    resolved_compression,
)
from geotile.errors import (
    GeotileError,
    InputError,
    Interrupted,
    OutputExistsError,
    gdal_reason,
    write_advice,
)
from geotile.gdal_settings import gdal_env, set_by_user, user_value
from geotile.plurals import counted
from geotile.sidecars import gdal_sidecars


@contextlib.contextmanager
def libtiff_errors_hidden() -> Iterator[None]:
    """Hide the lines libtiff prints itself on stderr when GDAL's file I/O fails
    (``_tiffWriteProc: No space left on device.``, one per block): the failure reaches GDAL
    too, and geotile reports it in one line naming the output. Process-wide (for a command,
    not the library); nothing happens where the loaded libtiff cannot be found."""
    import ctypes

    handlers = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/libtiff" in line}
        for path in sorted(p for p in paths if re.match(r"libtiff[.-]", Path(p).name)):
            set_handler = ctypes.CDLL(path).TIFFSetErrorHandler
            set_handler.restype, set_handler.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
            handlers.append((set_handler, set_handler(None)))
    except (OSError, AttributeError):
        pass
    try:
        yield
    finally:
        for set_handler, previous in reversed(handlers):
            set_handler(previous)


def check_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Raise OutputExistsError before any work when ``path`` exists and may not be replaced,
    or when a stray GDAL sidecar (``path.aux.xml``) would be merged into the new output; an
    InputError when it is a folder (never replaced)."""
    if Path(path).is_dir() and not Path(path).is_symlink():
        raise InputError(f"{path}: is a folder, where geotile would write a file; choose "
                         "another output name, or move the folder away.")
    if overwrite:
        return
    if Path(path).exists():
        raise OutputExistsError(f"{path}: already exists. Pass --overwrite to replace it.")
    if Path(path).is_symlink():  # one that points nowhere: exists() says no
        raise OutputExistsError(f"{path}: already exists (a symbolic link to "
                                f"{os.readlink(path)}, which does not exist). Remove it or "
                                "pass --overwrite to replace the link.")
    for sidecar in gdal_sidecars(path):
        raise OutputExistsError(f"{sidecar}: a GDAL sidecar is in the way (GDAL would read it "
                                f"as part of {Path(path).name}). Remove it or pass --overwrite.")


#: the names of the GeoTIFFs geotile writes
GEOTIFF_SUFFIXES = (".tif", ".tiff")


def check_geotiff_name(path: str | os.PathLike, hint: str = "") -> None:
    """InputError unless ``path`` is named as the GeoTIFF to be written there (.tif/.tiff:
    a .png, .jpg or .vrt holding a TIFF misleads every tool that goes by the name);
    ``hint`` is added to the message."""
    if Path(path).suffix.lower() not in GEOTIFF_SUFFIXES:
        raise InputError(f"{path}: the output is a GeoTIFF; name it "
                         f"{' or '.join(GEOTIFF_SUFFIXES)}{hint}.")


#: the guard of the cluster run whose task this thread runs (geotile.distributed), else None:
#: ``check()`` raises Interrupted once the run is interrupted; ``publishing()`` is held
#: around the move of an output into place and raises Interrupted instead once it is
RUN_GUARD: contextvars.ContextVar = contextvars.ContextVar("geotile_run_guard", default=None)


def check_stopped() -> None:
    """Raise Interrupted when the cluster run this thread works for was interrupted (a
    cheap check, between blocks of long work); nothing outside a cluster task."""
    guard = RUN_GUARD.get()
    if guard is not None:
        guard.check()


def temporary_sibling(path: Path) -> Path:
    """``.<stem>.<8 hex>.tmp<suffix>``; in a cluster run ``.<stem>.<run tag>-<8 hex>...``,
    so that the run can remove those its killed workers left (geotile.distributed). The
    stem is :func:`gdal_safe_name`'d (the rename into place keeps the name given)."""
    guard = RUN_GUARD.get()
    tag = f"{guard.tag}-" if guard is not None and getattr(guard, "tag", None) else ""
    stem = temporary_stem(path.stem)
    return path.with_name(f".{stem}.{tag}{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def _lock_of(tmp: Path) -> Path:
    """The lock file of a temporary file (``<tmp>.lock``), held while it is written."""
    return tmp.with_name(f"{tmp.name}.lock")


def held_temporary(final: Path) -> tuple[Path, int | None]:
    """A temporary name for ``final`` (:func:`temporary_sibling`) and a descriptor holding
    an exclusive lock on its ``<tmp>.lock`` until :func:`release_temporary`: another run's
    --resume (remove_temporaries) removes only the temporary files of runs
    that ended, never those of one still writing. None where the lock cannot be made
    (no flock; a folder not writable, which the write itself reports)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return temporary_sibling(final), None
    for _ in range(10):
        tmp = temporary_sibling(final)
        lock = _lock_of(tmp)
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError:
            return tmp, None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a --resume taking it for a dead run's: take another
                os.close(handle)
                continue
            except OSError:  # a file system without locks: the file alone, removed at the end
                return tmp, handle
            try:
                if os.path.samestat(os.fstat(handle), os.stat(lock)):
                    return tmp, handle
            except OSError:
                pass
        except BaseException:  # Ctrl-C or SIGTERM: the lock file made goes with it
            release_temporary(tmp, handle)
            raise
        os.close(handle)  # removed by a --resume before it was locked: take another name
    return temporary_sibling(final), None


def release_temporary(tmp: Path, handle: int | None) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):
            _lock_of(tmp).unlink()
        os.close(handle)


@contextlib.contextmanager
def temporary_abandoned(tmp: Path) -> Iterator[bool]:
    """Whether the temporary file ``tmp`` (and what lies beside it) was left by a run that
    ended: False while the run writing it holds its lock (:func:`held_temporary`) or
    where the file system has no locks to tell (its lock file there), True otherwise, its
    lock held meanwhile so that no run takes it while the files go."""
    try:
        import fcntl

        handle = os.open(_lock_of(tmp), os.O_RDONLY)
    except (ImportError, OSError):  # no lock: a killed run's, or one of an older geotile
        yield True
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError:  # a file system without locks: cannot tell, so it may be a live
            yield False  # run's (its writer locks nothing either): left in place
            return
        yield True
    finally:
        os.close(handle)


#: the most bytes of an output's stem kept in its temporary name, which adds up to ~60
#: (run tag, hex, .tmp, .aux.xml): a name near the file system's 255 stays writable
TEMPORARY_STEM_BYTES = 120


def temporary_stem(stem: str) -> str:
    """The stem of ``stem``'s temporary files: :func:`gdal_safe_name`, cut to
    :data:`TEMPORARY_STEM_BYTES` bytes as the file system encodes names, whole characters
    only (a cut inside one leaves a lone surrogate that GDAL's UTF-8 name cannot hold)."""
    stem = gdal_safe_name(stem)
    while len(os.fsencode(stem)) > TEMPORARY_STEM_BYTES:
        stem = stem[:-1]
    return stem


def gdal_safe_name(name: str) -> str:
    """``name`` with ';' and '!' as '_': GDAL's vector drivers cut a file name at ';'
    (x;.geojson is written as x) and pyogrio at '!' (an archive's member, pyogrio #632), so
    geotile writes under such a name and renames the file into place."""
    return name.replace(";", "_").replace("!", "_")


#: GDAL's words for a write that failed (a full disk, a file-size limit)
_WRITE_FAILED = re.compile(r"(?i)writ|space|too large")


def _nearest_existing(final: Path) -> Path:
    """The nearest folder of ``final`` that exists (or a file or dangling link standing
    where one must be: :func:`_file_in_the_way`)."""
    folder = final.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    return folder


def _file_in_the_way(final: Path) -> InputError | None:
    """The error for a file standing where a folder of ``final`` must be (x.txt/out.tif), or
    a link there to a folder that is gone (an unmounted drive)."""
    folder = _nearest_existing(final)
    if folder.is_symlink() and not folder.exists():
        return InputError(f"{final}: {folder} is a link to {os.readlink(folder)}, which "
                          "does not exist. Create that folder or choose another output path.")
    if folder.exists() and not folder.is_dir():
        return InputError(f"{final}: {folder} is a file, not a folder. Choose another "
                          "output path.")
    return None


def writable_folder(final: Path) -> None:
    """Create the output's folder; a folder that cannot be made or written is one line."""
    folder = final.parent
    if (error := _file_in_the_way(final)) is not None:
        raise error
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the output folder ({exc.strerror}). "
                         "Choose another output path.") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: the output folder is not writable. "
                         "Choose another output path or fix its permissions.")


def check_writable(final: str | os.PathLike) -> None:
    """Before any work: one InputError line naming ``final`` unless a file can be created in
    its folder (the nearest existing one when it is not made yet): a read-only mount, a
    folder without write permission."""
    final = Path(final)
    if (error := _file_in_the_way(final)) is not None:
        raise error
    folder = _nearest_existing(final)
    probe = temporary_sibling(folder / final.name)
    from geotile.output_folder import signals_deferred

    try:
        with signals_deferred():  # a Ctrl-C between the two: the probe goes first
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{final}: its folder {folder} is not writable ({exc.strerror}). "
                         "Choose another output path or fix its permissions.") from exc


#: the outputs of the command running (:func:`outputs_as_found`), else None: as they were
#: when it began (absolute path -> their file's :func:`output_identity`, None: absent), and
#: as this run left those it wrote (absolute path -> (path as given, identity, whether a
#: file found there instead is this very output: (atomic_output's written_meanwhile,
#: whether it had a sidecar), or None))
RUN_OUTPUTS: contextvars.ContextVar = contextvars.ContextVar("geotile_run_outputs",
                                                             default=None)


@functools.cache
def this_machine() -> str:
    """Where a file's inode number means what it meant: this host and boot, and this
    process's mount namespace (another container on the host mounts a bucket anew)."""
    import socket

    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):  # Linux only
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/mnt"))
    return " ".join(parts)


def output_identity(path) -> tuple | None:
    """The file ``path`` is now, as :func:`same_output` compares it: (:func:`this_machine`,
    inode, mtime, size); None where there is none."""
    from geotile.errors import file_identity

    found = file_identity(path)
    return None if found is None else (this_machine(), *found[1:])


def same_output(found: tuple | None, noted: tuple | None) -> bool:
    """Whether two :func:`output_identity` are one file: its mtime and size, and its inode
    where both were read on one machine. A cluster's worker on another machine sees a
    shared file under another device number, and a mount that numbers files itself (a
    FUSE mount of a bucket, gVisor) under another inode; its mtime and size are the file's."""
    if found is None or noted is None:
        return found is noted
    return found[2:] == noted[2:] and (found[0] != noted[0] or found[1] == noted[1])


@contextlib.contextmanager
def outputs_as_found(outputs) -> Iterator[None]:
    """Note the ``outputs`` of a run as they are before it writes any: an --overwrite
    output that another process replaced since (a second run into the same folder) is
    never replaced again (:func:`atomic_output`), and :func:`check_outputs_kept` says at
    the end when one this run wrote was replaced, so that no run ends well with a mix of
    its outputs and another's."""
    token = RUN_OUTPUTS.set(({os.path.abspath(p): output_identity(p) for p in outputs}, {}))
    try:
        yield
    finally:
        RUN_OUTPUTS.reset(token)


def noted_output(path) -> tuple | None:
    """What travels with a cluster task writing ``path``: ``(identity,)`` as this run
    noted it when it began (:func:`outputs_as_found`), None where it noted none."""
    noted = RUN_OUTPUTS.get()
    key = os.path.abspath(path)
    return (noted[0][key],) if noted is not None and key in noted[0] else None


@contextlib.contextmanager
def task_output(path, noted: tuple | None) -> Iterator[dict]:
    """In a cluster task writing ``path`` (as the task names it): the caller's note of it
    (:func:`noted_output`) stands for this thread's, so that its worker never replaces it
    once another process wrote it since the run began. Yields a dict that holds, once the
    block ends, ``"written"``: the output as the task left it (its identity, and how to
    tell it again; None: not written), for the caller's :func:`note_task_output`."""
    told: dict = {"written": None}
    token = RUN_OUTPUTS.set(None if noted is None
                            else ({os.path.abspath(path): noted[0]}, {}))
    try:
        yield told
        if noted is not None:
            written = RUN_OUTPUTS.get()[1].get(os.path.abspath(path))
            told["written"] = None if written is None else written[1:]
    finally:
        RUN_OUTPUTS.reset(token)


def note_task_output(path, written: tuple | None) -> None:
    """In the caller: a cluster task wrote ``path`` and left it as ``written``
    (:func:`task_output`), for :func:`check_outputs_kept` as if this process wrote it."""
    noted = RUN_OUTPUTS.get()
    if written is not None and noted is not None and (key := os.path.abspath(path)) in noted[0]:
        noted[1][key] = (Path(path), *written)


def _changed_meanwhile(final: Path) -> bool:
    """Whether another process wrote ``final`` since this run began (:data:`RUN_OUTPUTS`)."""
    noted = RUN_OUTPUTS.get()
    key = os.path.abspath(final)
    return noted is not None and key in noted[0] and \
        not same_output(output_identity(final), noted[0][key])


def _note_written(final: Path, same: tuple | None = None) -> None:
    """Note ``final`` as this run left it; ``same``: (written_meanwhile, sidecar), which
    tells this very output put in place by another run (:func:`check_outputs_kept`)."""
    if (noted := RUN_OUTPUTS.get()) is not None and (key := os.path.abspath(final)) in noted[0]:
        noted[1][key] = (final, output_identity(final), same)  # named as given


@contextlib.contextmanager
def changed_in_place(final: str | os.PathLike) -> Iterator[None]:
    """Around this run's own change to an output it wrote (a mask's class list rewritten
    once every image's is known): it stays this run's for :func:`check_outputs_kept`,
    unless another process had replaced it before."""
    noted, key = RUN_OUTPUTS.get(), os.path.abspath(final)
    before = output_identity(final)
    yield
    if noted is not None and key in noted[1] and same_output(before, noted[1][key][1]):
        noted[1][key] = (noted[1][key][0], output_identity(final), *noted[1][key][2:])


def check_outputs_kept() -> None:
    """At the end of a run: OutputExistsError naming the first output it wrote that another
    process replaced since (a second run into the same outputs: a mix of both), unless
    by this very output (complete with its completion tag: a killed run's task that
    finished late, a --resume started twice), as :func:`atomic_output` keeps one."""
    noted = RUN_OUTPUTS.get()
    replaced = [final for final, found, same in (noted[1] if noted else {}).values()
                if not same_output(output_identity(final), found)
                and not (same is not None and same[0](Path(final), same[1]))]
    if replaced:
        more = f" (and {counted(len(replaced) - 1, 'other')})" if len(replaced) > 1 else ""
        raise OutputExistsError(
            f"{replaced[0]}{more}: another process (a second geotile run into these outputs?) "
            "replaced it after this run wrote it: the outputs are a mix of both runs'. Run "
            "one at a time.")


def publish(tmp: Path, final: Path, overwrite: bool) -> None:
    """Move a finished ``tmp`` to ``final``. Without ``overwrite`` the move never replaces a
    file that appeared meanwhile (another process, a second run to the same path): a hard
    link fails if ``final`` exists, where a rename would silently clobber it."""
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise OutputExistsError(
            f"{final}: appeared while geotile was writing it (another process?); it was left "
            "as it is. Pass --overwrite to replace it, or choose another output."
        ) from None
    except OSError:  # a file system without hard links: check, then rename
        if final.exists():
            raise OutputExistsError(
                f"{final}: appeared while geotile was writing it; it was left as it is. "
                "Pass --overwrite to replace it.") from None
        os.replace(tmp, final)
        return
    tmp.unlink()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock, waiting for it) while an output of
    several files is moved in, so that two runs given one output move theirs in one after
    the other, never interleaved; nothing where the system or file system has no flock."""
    try:
        import fcntl

        handle = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


#: the advice for a write that failed for a reason not known (most often a full disk)
_UNKNOWN_WRITE = "Free space or choose another folder."


_EFBIG = OSError(errno.EFBIG, os.strerror(errno.EFBIG))


def file_size_limit() -> int | None:
    """The process's file-size limit in bytes (ulimit -f), None without one: a write past it
    fails with EFBIG, which only libtiff's own hidden lines would say
    (:func:`libtiff_errors_hidden`)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def failed_write_advice(cause: BaseException | str, default: str,
                        written: os.PathLike | None = None) -> str:
    """:func:`geotile.errors.write_advice` for a write that failed with ``cause``; where that
    knows no fix (GDAL's "disk I/O error", "Cannot write feature") and a file-size limit is
    set, the limit (ulimit -f), else ``default``. ``written``: the temporary file or folder
    being written; where its file system has less room than the limit (a full disk under a
    generous limit: a write stops at the limit, leaving room), ``default``."""
    advice = write_advice(cause, default)
    if advice == default and (limit := file_size_limit()) is not None \
            and (written is None or _free_bytes(Path(written)) > limit):
        efbig = write_advice(_EFBIG)
        advice = f"A file-size limit of {limit} bytes is set: {efbig[0].lower()}{efbig[1:]}"
    return advice


def _free_bytes(written: Path) -> float:
    """The room left on the file system of ``written`` (its folder); infinite where it
    cannot be told."""
    for folder in (written, *written.parents):
        try:
            stat = os.statvfs(folder)
        except (OSError, AttributeError):  # gone meanwhile, or no statvfs (Windows)
            continue
        return stat.f_bavail * stat.f_frsize
    return float("inf")


def verify_geotiff(path: str | os.PathLike, shown_as: str | os.PathLike | None = None) -> None:
    """Raise InputError unless ``path`` is a GeoTIFF whose every block lies inside the file.

    GDAL reports a full disk or an I/O error while flushing blocks or the directory at
    close only on stderr, and a block whose offset is 0 reads back as zeros: a file that
    opens can still be wrong. This reads only the TIFF directory (no pixels).
    """
    shown = shown_as or path
    size = os.path.getsize(path)
    fail = (f"{shown}: the GeoTIFF was not written completely (disk full or an I/O error "
            "while GDAL wrote it); nothing was written under that name. Free space and run "
            "again.")
    if (limit := file_size_limit()) is not None and size >= limit:
        fail = (f"{shown}: the GeoTIFF was cut at the file-size limit ({limit} bytes); "
                f"nothing was written under that name. {write_advice(_EFBIG)}")
    try:
        with rasterio.open(path) as src:
            if src.driver not in ("GTiff", "COG"):
                return
            separate = src.interleaving is not None and src.interleaving.value == "BAND"
            planes = range(1, src.count + 1) if separate and src.count > 1 else (1,)
            block_h, block_w = src.block_shapes[0]
            cols, rows = -(-src.width // block_w), -(-src.height // block_h)
            for band in planes:
                for y in range(rows):
                    for x in range(cols):
                        offset = src.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=band)
                        count = src.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=band)
                        if not offset or not count or int(offset) + int(count) > size:
                            raise InputError(fail)
    except RasterioError as exc:
        raise InputError(fail) from exc


def pam_sidecar(path: str | os.PathLike) -> Path:
    """GDAL's PAM sidecar of a raster (``<name>.aux.xml``): metadata GDAL merges into it."""
    return Path(f"{os.fspath(path)}.aux.xml")


def _no_room(final: Path, most: int) -> InputError:
    size = len(os.fsencode(pam_sidecar(final).name))
    return InputError(f"{final}: its sidecar {pam_sidecar(final).name} (the category names "
                      f"GDAL keeps beside it) is {size} bytes, and this file system names "
                      f"{most} at most; nothing was written under that name. Choose a "
                      f"name {counted(size - most, 'byte')} shorter.")


def check_sidecar_room(path: str | os.PathLike) -> None:
    """InputError, before anything is written, where an output that keeps a PAM sidecar
    (class names: masks, class predictions) is named with no room for '.aux.xml' (the
    longest name its folder's file system takes, or that of the nearest folder there)."""
    final = Path(path)
    folder = next((p for p in (final.parent, *final.parent.parents) if p.is_dir()), None)
    try:
        most = os.pathconf(folder or ".", "PC_NAME_MAX")
    except (OSError, ValueError):  # a file system that does not say
        return
    if len(os.fsencode(pam_sidecar(final).name)) > most:
        raise _no_room(final, most)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike,
    overwrite: bool = False,
    verify: Callable[[Path, Path], None] | None = None,
    written_meanwhile: Callable[[Path, bool], bool] | None = None,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it to ``path`` when the block succeeds.

    ``verify(tmp, final)`` runs before the move (GeoTIFF outputs get
    :func:`verify_geotiff` by default), so nothing is moved into place unless it was
    written completely. The move never replaces a file that appeared meanwhile unless
    ``overwrite`` (:func:`publish`). On any exception (KeyboardInterrupt and SystemExit
    included) the temporary file is removed and an existing ``path`` is left untouched.

    A PAM sidecar of the temporary file (``<tmp>.aux.xml``: category names, ...) follows
    the file, after it, so that it never appears without its raster; a sidecar of the
    replaced output goes with it. A stray sidecar without ``overwrite`` is refused (GDAL
    would merge it into the new output).

    With ``overwrite`` the temporary files a killed run left for ``path`` go first
    (:func:`remove_temporaries`).

    ``written_meanwhile(final, sidecar)``: whether a file that appeared meanwhile (with its
    sidecar where ``sidecar``) is this very output, of another run of the same command (a
    --resume started twice; geotile.resume.completed_as): it stays, and this copy goes.
    """
    final = Path(path)
    check_output(final, overwrite)
    sidecar = pam_sidecar(final)
    writable_folder(final)
    if overwrite:  # what a killed run left beside it (geotile's names, never a live run's)
        remove_temporaries(final)
    if verify is None and final.suffix.lower() in (".tif", ".tiff"):
        verify = verify_geotiff
    from geotile.output_folder import signals_deferred

    complete = False
    tmp, held = temporary_sibling(final), None  # named at once for the lines below
    try:  # from here on: a Ctrl-C removes the lock file too
        with signals_deferred():  # a signal as the lock file is made: handled in here
            tmp, held = held_temporary(final)  # never taken for a killed run's by another
        tmp_sidecar = pam_sidecar(tmp)
        yield tmp
        check_stopped()
        if verify is not None and tmp.exists():
            verify(tmp, final)
        if tmp_sidecar.exists():  # before the move: never an output without its sidecar
            check_sidecar_room(final)
        guard = RUN_GUARD.get()
        # a cluster task never publishes once its run was reported interrupted; Ctrl-C and
        # SIGTERM wait until the sidecar is in too (the raster alone misses its names)
        with guard.publishing() if guard is not None else contextlib.nullcontext(), \
                signals_deferred():
            # how a file found there in its place is told to be this very output
            same = None if written_meanwhile is None else (written_meanwhile,
                                                           tmp_sidecar.exists())
            try:
                if overwrite and _changed_meanwhile(final):
                    raise OutputExistsError(
                        f"{final}: another process (a second geotile run into these "
                        "outputs?) wrote it while this run went on; it was left as it is. "
                        "Run one at a time, or give each run its own output.")
                publish(tmp, final, overwrite)
            except OutputExistsError:
                if same is None or not same[0](final, same[1]):
                    raise
                _note_written(final, same)
                complete = True  # a Ctrl-C held meanwhile: the line says it is in place
                return  # another run of the same command put this output in place
            if overwrite:  # they described the output just replaced
                for stale in gdal_sidecars(final):
                    stale.unlink(missing_ok=True)
            if tmp_sidecar.exists():
                os.replace(tmp_sidecar, sidecar)
            _note_written(final, same)
            complete = True
    except KeyboardInterrupt:
        if complete:
            raise Interrupted(f"{final}: interrupted after it was written completely (it is "
                              "in place).") from None
        raise Interrupted(f"{final}: interrupted; nothing was written under that name "
                          "(the temporary file was removed).") from None
    except (OSError, RasterioError, CPLE_BaseError) as exc:
        if isinstance(exc, RasterioError | CPLE_BaseError) \
                and (error := _gdal_write_error(exc, tmp, final)) is not None:
            raise error from exc  # GDAL's reason, not rasterio's "See previous exception"
        if not isinstance(exc, OSError) or exc.filename not in (None, os.fspath(tmp)):
            raise
        # a full disk or a vanished folder while writing: name the output, not the temp file
        advice = failed_write_advice(exc, _UNKNOWN_WRITE, tmp)
        raise InputError(f"{final}: could not be written ({exc.strerror or exc}); nothing was "
                         f"left under that name. {advice}") from exc
    finally:
        stuck = _remove_temporaries(tmp)
        release_temporary(tmp, held)
        if stuck is not None and isinstance(sys.exc_info()[1], GeotileError):
            # the folder turned read-only meanwhile: say so on geotile's own line
            raise type(sys.exc_info()[1])(f"{sys.exc_info()[1]} {stuck}") from sys.exc_info()[1]


def _gdal_write_error(exc: BaseException, tmp: Path, final: Path) -> InputError | None:
    """The line for GDAL failing to write ``tmp`` (or a COG's own temporary files on a full
    disk), named as ``final``, with advice by its reason (a file-size limit when one is set
    and the reason says none); None for an error that is not the writing of this output."""
    reason = gdal_reason(exc)
    if tmp.name not in f"{exc} {reason}" and not _WRITE_FAILED.search(reason):
        return None
    reason = re.sub(r"[^\s:]*" + re.escape(tmp.name) + r"[^\s:]*", final.name, reason)
    advice = failed_write_advice(reason, _UNKNOWN_WRITE, tmp)
    return InputError(f"{final}: GDAL could not write it ({reason}); nothing was left "
                      f"under that name. {advice}")


def _remove_temporaries(tmp: Path) -> str | None:
    """Remove ``tmp`` and its PAM sidecar; None when gone, else the sentence saying what
    was left (a folder made read-only meanwhile refuses the removal)."""
    for leftover in (tmp, pam_sidecar(tmp)):
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            return (f"Its temporary file {leftover} could not be removed ({exc.strerror}); "
                    "delete it once the folder is writable.")
    return None


#: a file named in GDAL's reason ("t1.tif, band 1: IReadBlock failed"): a read error naming
#: none ("Cannot read 39768 bytes at offset 935") is of the COG's own temporary overviews,
#: cut on a full disk without a word
_NAMES_A_FILE = re.compile(r"\w\.[A-Za-z]\w{1,4}\b")


def _check_temporary_folder() -> None:
    """InputError where the user's CPL_TMPDIR names no folder to write in (gone, read-only):
    the COG driver writes its temporary overviews there, and its failure read as the
    output's ('Free space or choose another folder')."""
    folder = user_value("CPL_TMPDIR")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        raise InputError(
            f"CPL_TMPDIR={folder}: no folder that can be written in, where GDAL writes a "
            "COG's temporary overviews. Point it at one, or unset it (they are then written "
            "beside the output).")


def _cog_overview_settings(settings: dict) -> dict:
    """The overviews' codec and block size of a COG written with ``settings``, set where the
    user has set them for gdaladdo (COMPRESS_OVERVIEW, GDAL_TIFF_OVR_BLOCKSIZE): the COG
    driver takes theirs over its own (JPEG overviews of class ids or of a palette, whose
    tiles then went unwritten; 64 px overview blocks in a 512 px COG)."""
    wanted = {"COMPRESS_OVERVIEW": str(settings.get("compress", "LZW")).upper(),
              "GDAL_TIFF_OVR_BLOCKSIZE": str(settings.get("blocksize", 512))}
    return {key: value for key, value in wanted.items() if set_by_user(key)}


def write_cog(
    src_path: str | os.PathLike,
    dst_path: str | os.PathLike,
    creation_options: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Copy a finished GeoTIFF to a Cloud Optimised GeoTIFF (overviews, tiled, compressed as
    :func:`output_profile` compresses: float bands "float-fast", others DEFLATE).

    ``creation_options`` (``--co``, GeoTIFF or COG names, :func:`cog_creation_options`)
    win over the defaults and over ``options``.
    """
    from rasterio.shutil import copy

    with rasterio.open(src_path) as src:
        floats = np.dtype(src.dtypes[0]).kind == "f"
    codec = COMPRESSION_PROFILES[resolved_compression("float-fast" if floats else "deflate")]
    settings = {**cog_creation_options(codec), "predictor": "YES", "num_threads": "ALL_CPUS",
                "overview_resampling": "average", "bigtiff": BIGTIFF}
    settings.update(options)
    user = cog_creation_options({k.lower(): v for k, v in (creation_options or {}).items()})
    if "compress" in user:  # another codec: its own level and predictor defaults
        settings.pop("predictor", None)
        settings.pop("level", None)
    settings.update(user)
    _check_temporary_folder()
    try:
        with gdal_env(_cog_overview_settings(settings)):
            copy(src_path, dst_path, driver="COG", **settings)
    except (RasterioError, CPLE_BaseError) as exc:
        reason = gdal_reason(exc)
        if re.search(r"(?i)read", reason) and Path(dst_path).name not in reason and not \
                _WRITE_FAILED.search(reason) and _NAMES_A_FILE.search(reason):
            raise  # an input that cannot be read (a cut tile), not one of this write's files
        # said for the file written (atomic_output names the output), whatever GDAL's words:
        # a full disk fails the copy as "FillEmptyTiles() failed because panByteCounts == NULL"
        raise RasterioError(f"writing {os.fspath(dst_path)} failed: {reason}") from exc


def _temporary_pattern(final: Path) -> re.Pattern:
    # geotile.output_files.temporary_sibling: .<stem>.<8 hex>.tmp<suffix> (a dask run's:
    # .<stem>.<run tag>-<8 hex>.tmp<suffix>), plus what geotile writes beside it (.aux.xml,
    # .gtiff, .model-grid.tif, .part)
    stem = re.escape(temporary_stem(final.stem))
    return re.compile(rf"\.{stem}\.(?:[0-9a-f]{{8}}-)?[0-9a-f]{{8}}\.tmp"
                      rf"{re.escape(final.suffix)}(\.[A-Za-z0-9_.-]+)?")


def remove_temporaries(output: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (and vector outputs' temporary folders) a killed geotile
    run left beside ``output`` (its own names only:
    ``.<stem>.[<run tag>-]<8 hex>.tmp<suffix>[...]``), never those of a run
    still writing them (its ``.lock`` held); returns what was removed."""
    final = Path(output)
    if not final.parent.is_dir():
        return []
    pattern = _temporary_pattern(final)
    found: dict[str, list[Path]] = {}  # by the temporary file they belong to
    for name in _hidden_names(final.parent):
        entry = final.parent / name
        if (match := pattern.fullmatch(name)) and not entry.is_symlink() and (
                entry.is_file() or entry.is_dir()):  # a folder: vector_output's
            found.setdefault(name[:match.start(1)] if match.group(1) else name,
                             []).append(entry)
    removed = []
    for tmp, entries in found.items():
        with temporary_abandoned(final.parent / tmp) as abandoned:
            if not abandoned:  # another run, still writing it
                continue
            for entry in entries:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


#: folder -> (its modification time, its hidden entries): see :func:`_hidden_names`; the
#: most recent _HIDDEN_FOLDERS only (a service's jobs each write a folder of their own)
_HIDDEN_NAMES: dict[str, tuple[int, list[str]]] = {}
_HIDDEN_FOLDERS = 64
_HIDDEN_LOCK = threading.Lock()


def _hidden_names(folder: Path) -> list[str]:
    """The hidden entries of ``folder`` (where temporaries live), listed again only when
    the folder changed since (its modification time): a --resume over a city's outputs
    lists their folder once, not once per output. An entry missed by a coarse clock is one
    made after the first look: another run's, never this run's to remove."""
    key, stamp = os.fspath(folder), folder.stat().st_mtime_ns
    with _HIDDEN_LOCK:
        cached = _HIDDEN_NAMES.get(key)
    if cached is None or cached[0] != stamp:
        with os.scandir(folder) as entries:
            cached = (stamp, [e.name for e in entries if e.name.startswith(".")])
        with _HIDDEN_LOCK:
            _HIDDEN_NAMES.pop(key, None)
            while len(_HIDDEN_NAMES) >= _HIDDEN_FOLDERS:
                del _HIDDEN_NAMES[next(iter(_HIDDEN_NAMES))]
            _HIDDEN_NAMES[key] = cached
    return cached[1]
