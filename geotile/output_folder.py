"""Output folders that geotile fills (``tile``): staged, published on success, and replaced
only where geotile wrote.

geotile writes into a hidden staging folder inside the output folder and, once every file
is written, moves the files into place and records them in a marker file
(``.geotile-tile.json``). A later ``--overwrite`` removes only the files a marker lists (or,
for a folder without marker, an ``index.csv`` and the patches it lists); a non-empty folder
holding anything else is refused, ``--overwrite`` or not. An existing empty folder (``-o .``
in an empty directory) is a valid output. Ctrl-C, SIGTERM and errors remove the staging
folder; a second Ctrl-C waits until it is gone.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from geotile.errors import InputError, Interrupted, OutputExistsError, write_advice

MARKER = ".geotile-tile.json"
STAGING_PREFIX = ".geotile-tile-"
STAGING_SUFFIX = ".tmp"
#: files of an index.csv that name what geotile wrote
INDEX = "index.csv"
INDEX_FILE_COLUMNS = ("image", "mask")
#: the columns every index.csv geotile wrote has (other tools' manifests have image and mask)
INDEX_REQUIRED = (*INDEX_FILE_COLUMNS, "source", "row", "col", "x_off", "y_off", "width",
                  "height", "split")


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, then hand them to the handlers
    the process had (Python's Ctrl-C handler, the command's: KeyboardInterrupt; a service's
    own: called, the block's work kept); KeyboardInterrupt for a default action or a C
    handler. A signal the process ignores (``nohup``) stays ignored.

    Only in the main thread (elsewhere signals cannot be caught and the block just runs).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    saved = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) is signal.SIG_IGN:
            continue
        with contextlib.suppress(ValueError, OSError):
            saved[number] = signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in dict.fromkeys(received):
            if callable(saved.get(number)):
                signal.raise_signal(number)  # its handler runs (and may raise) now
            else:
                raise KeyboardInterrupt


def _safe_relative(name: str) -> bool:
    path = Path(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def _all_entries(folder: Path) -> tuple[set[str], set[str]]:
    """(files, folders) under ``folder`` as relative POSIX paths; staging folders skipped.
    A link to a folder is a file: never followed, and never one geotile wrote."""
    files, folders = set(), set()
    def fail(error: OSError) -> None:
        raise error  # a folder that cannot be listed is not known to be geotile's

    for root, dirs, names in os.walk(folder, onerror=fail):
        rel_root = Path(root).relative_to(folder)
        if rel_root == Path("."):
            dirs[:] = [d for d in dirs if not _is_staging(d)]
        for d in dirs:
            (files if Path(root, d).is_symlink() else folders).add((rel_root / d).as_posix())
        for n in names:
            files.add((rel_root / n).as_posix())
    return files, folders


def _is_staging(name: str) -> bool:
    return name.startswith(STAGING_PREFIX) and name.endswith(STAGING_SUFFIX)


def _listed_by_index(index: Path) -> set[str] | None:
    """Files an index.csv written by geotile lists, or None when it is not geotile's: its
    columns, and every patch under images/ or masks/ named ``<source>_<row>_<col>.*`` (a
    dataset's own manifest naming its own files is never taken for geotile's)."""
    try:
        with index.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not set(INDEX_REQUIRED) <= set(reader.fieldnames):
                return None
            listed = set()
            for row in reader:
                for column, folder in zip(INDEX_FILE_COLUMNS, ("images", "masks"), strict=True):
                    name = row.get(column)
                    if not name:
                        continue
                    path = Path(name)
                    if path.parent.as_posix() != folder or not path.stem.endswith(
                            f"_{row.get('row')}_{row.get('col')}"):
                        return None
                    listed.add(name)
            return listed
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def geotile_files(folder: Path) -> tuple[set[str], set[str]]:
    """(files geotile wrote in ``folder``, other files), as relative POSIX paths.

    geotile's files are those its marker lists, else an index.csv and the files it lists.
    """
    files, _ = _all_entries(folder)
    ours: set[str] = set()
    marker = folder / MARKER
    if marker.is_file():
        try:
            listed = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            listed = []
        ours = {MARKER} | {n for n in listed if isinstance(n, str) and _safe_relative(n)}
    elif (folder / INDEX).is_file():
        listed = _listed_by_index(folder / INDEX)
        if listed is not None:
            ours = {INDEX} | {n for n in listed if _safe_relative(n)}
    ours &= files
    return ours, files - ours


def _examples(names: set[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(shown) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _check_folder(final: Path, overwrite: bool) -> set[str]:
    """Files of an earlier geotile run to replace (empty for a new or empty folder);
    raise when ``final`` may not be written."""
    if not final.exists():
        return set()
    if not final.is_dir():
        raise OutputExistsError(f"{final}: is a file, not a folder. Give a new or empty folder "
                                "as output.")
    ours, others = geotile_files(final)
    has_marker = MARKER in ours
    if others and not has_marker:
        raise OutputExistsError(
            f"{final}: the folder holds files geotile did not write ({_examples(others)}); "
            "they are never deleted, --overwrite or not. Give a new or empty folder as output."
        )
    if ours and not overwrite:
        raise OutputExistsError(
            f"{final}: holds the output of an earlier `geotile tile`. Pass --overwrite to "
            "replace it (only the files geotile wrote are replaced)."
        )
    return ours


def output_os_error(exc: OSError, final: Path) -> InputError:
    if exc.errno == errno.ENOSPC:
        return InputError(f"{final}: no space left on the device; nothing was written there. "
                          "Free space and run again.")
    if exc.errno == errno.EROFS:
        return InputError(f"{final}: the output folder is not writable ({exc.strerror}). "
                          "Choose another output folder.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InputError(f"{final}: the output folder is not writable or not readable "
                          f"({exc.strerror}). Choose another output folder or fix its "
                          "permissions.")
    where = exc.filename or final
    return InputError(f"{where}: {exc.strerror or exc}; nothing was written in {final}. "
                      f"{write_advice(exc)}")


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike, overwrite: bool = False,
                  tool: str = "geotile tile", inputs=(), about: dict | None = None,
                  ) -> Iterator[Path]:
    """Yield a staging folder; when the block succeeds its files are published in ``path``.

    Refuses (before any work) a folder holding files geotile did not write, and an earlier
    geotile output unless ``overwrite``. On success the earlier output's files are removed,
    the new ones moved in and listed in the marker. On any error or interrupt nothing in
    ``path`` changes and the staging folder is removed (folders geotile made are removed
    too). ``inputs`` (paths this run reads) are never among the files replaced. ``about``:
    more keys for the marker, read when the block ends (so it may be filled meanwhile).
    """
    from geotile._version import __version__

    text = os.fspath(path)
    if text.startswith("/vsi") or re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", text):
        raise InputError(f"{text}: patches are written to a local folder, not to a GDAL "
                         "virtual or cloud path. Give a local folder and copy it afterwards.")
    final = Path(path)
    if final.is_symlink() and not final.exists():
        raise InputError(f"{final}: a symbolic link to {os.readlink(final)}, which does not "
                         "exist. Create that folder (or mount its disk), or give another "
                         "output folder.")
    try:
        old = _check_folder(final, overwrite)
    except OSError as exc:
        raise output_os_error(exc, final) from exc
    _check_inputs_kept(final, old, inputs)
    made = [p for p in (final, *final.parents) if not p.exists()]  # removed again on failure
    try:
        final.mkdir(parents=True, exist_ok=True)
        staging = final / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}{STAGING_SUFFIX}"
        staging.mkdir()
    except OSError as exc:
        _remove_empty(made)
        raise output_os_error(exc, final) from exc
    published = False
    try:
        yield staging
        with signals_deferred():  # Ctrl-C waits until the files are in place
            _publish(staging, final, overwrite,
                     {"written_by": tool, "version": __version__, **(about or {})})
            published = True
    except KeyboardInterrupt:
        if published:
            raise Interrupted(f"{final}: interrupted after the output was written completely "
                              "(it is in place).") from None
        raise Interrupted(f"{final}: interrupted; nothing was written there (the temporary "
                          "files were removed).") from None
    except OSError as exc:
        raise output_os_error(exc, final) from exc
    finally:
        try:
            with signals_deferred():  # a second Ctrl-C waits until the staging folder is gone
                for _ in range(5):  # a writer thread may still add a file as we remove them
                    _rmtree(staging)
                    if not staging.exists():
                        break
                    time.sleep(0.05)
                _remove_empty(made)  # only folders left empty: nothing was published
        except KeyboardInterrupt:
            if published:  # a Ctrl-C as the emptied staging folder went
                raise Interrupted(f"{final}: interrupted after the output was written "
                                  "completely (it is in place).") from None
            raise Interrupted(f"{final}: interrupted; nothing was written there (the "
                              "temporary files were removed).") from None


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


def _check_inputs_kept(final: Path, old: set[str], inputs) -> None:
    """Refuse to replace an earlier output that holds one of this run's inputs, or a file
    one reads (a VRT's sources: :func:`geotile.input_sources.files_read`)."""
    if not old or not inputs:
        return
    from geotile.input_sources import files_read

    replaced = {(final / name).resolve() for name in old}
    for given in inputs:
        for read in files_read(given):
            if isinstance(read, os.PathLike | str) and Path(read).resolve() in replaced:
                what = "an input" if Path(read) == Path(given) else f"an input (it reads {read})"
                raise InputError(
                    f"{given}: {what} is among the files --overwrite would replace in "
                    f"{final}. Give another output folder."
                )


def _publish(staging: Path, final: Path, overwrite: bool, about: dict) -> None:
    """Replace the earlier geotile output in ``final`` by the files in ``staging``."""
    new, _ = _all_entries(staging)
    old = _check_folder(final, overwrite)  # again: the folder may have changed meanwhile
    _, present = geotile_files(final)
    clashes = {n for n in new if n in present} | {n for n in new if (final / n).is_dir()}
    # a link where a folder of the new files goes (out/images -> a user's folder)
    clashes |= {p.as_posix() for n in new for p in Path(n).parents
                if p != Path(".") and (final / p).is_symlink()}
    if clashes:
        raise OutputExistsError(
            f"{final}: files geotile did not write have the names of files this run writes "
            f"({_examples(clashes)}); nothing was replaced. Move them away, or give a new or "
            "empty folder."
        )
    # the new marker first, in the staging folder: a full disk fails it before anything in
    # ``final`` changes (no marker listing files never moved, no earlier output removed)
    (staging / MARKER).write_text(json.dumps({**about, "files": sorted(new)}, indent=1),
                                   encoding="utf-8")
    # while files move, the marker lists old and new ones: whatever stops the moves, the
    # folder stays geotile's and a later --overwrite cleans it
    _write_marker(staging, final, about, old | new)
    from geotile.sidecars import gdal_sidecars

    for name in sorted(old - {MARKER}):
        # with its GDAL sidecars (statistics QGIS saved, overviews): GDAL would read them
        # as part of the new file of that name
        for gone in (final / name, *gdal_sidecars(final / name)):
            with contextlib.suppress(FileNotFoundError):
                gone.unlink()
    _remove_empty_parents(final, old)
    last = [n for n in (INDEX, MARKER) if (staging / n).exists()]
    for entry in sorted(staging.iterdir()):
        if entry.name in last:
            continue
        _move(entry, final / entry.name)
    for name in last:
        os.replace(staging / name, final / name)


def _write_marker(staging: Path, final: Path, about: dict, files: set[str]) -> None:
    interim = staging / f"{MARKER}.interim"
    interim.write_text(json.dumps({**about, "files": sorted(files - {MARKER})}, indent=1),
                       encoding="utf-8")
    os.replace(interim, final / MARKER)


def _move(source: Path, target: Path) -> None:
    """Move a file or folder; into a folder that exists, file by file."""
    if not source.is_dir() or not target.exists():
        os.replace(source, target)
        return
    for entry in source.iterdir():
        _move(entry, target / entry.name)


def _remove_empty_parents(final: Path, names: set[str]) -> None:
    parents = {p for n in names for p in Path(n).parents if p != Path(".")}
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            (final / parent).rmdir()
