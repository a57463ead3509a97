"""The part folders of a tile run, for --resume: each image is cut into a folder of its
own inside the output folder (locked: one run at a time), finished by a completion record;
a run record says which run is cutting there, so that --resume continues only that run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

from geotile.errors import OutputExistsError
from geotile.image_stems import image_stem


def keep_finished(parts: Path, lock, images, digests) -> int:
    """A failed --resume run: remove the patches of the images it did not finish (cut short,
    redone by the next run anyway); the number of finished images, kept for it."""
    if lock is None:  # not this run's folder
        return 0
    finished = 0
    for image, digest in zip(images, digests, strict=True):
        part = parts / image_stem(image)
        if read_record(part / "complete.json").get("complete") == digest:
            finished += 1
        else:
            shutil.rmtree(part, ignore_errors=True)
    return finished


def forget_record(parts: Path, lock, made: list[Path]) -> None:
    """A failed --resume run that finished no image (and replaces no earlier output): it
    leaves nothing to go on from, so its run record goes, and the folders it made when left
    empty (the cut images of other runs stay)."""
    if lock is not None:
        with contextlib.suppress(OSError):
            (parts / RUN_RECORD).unlink()
        with contextlib.suppress(OSError):
            parts.rmdir()
    for folder in made:  # deepest first; only when left empty
        with contextlib.suppress(OSError):
            folder.rmdir()


def forget_parts(parts: Path, lock, made: list[Path]) -> None:
    """A failed run without --resume: its cut images go (never another run's), and the
    folders it made when left empty."""
    if lock is not None:
        empty_folder(parts)
        with contextlib.suppress(OSError):
            parts.rmdir()
    for folder in made:  # deepest first; only when left empty
        with contextlib.suppress(OSError):
            folder.rmdir()


#: where each image is cut first, inside the output folder (a staging name: never taken for
#: a file of the user's, never published)
PARTS = ".geotile-tile-parts.tmp"
#: in PARTS: the key of the run cutting there and whether it replaces an earlier output
RUN_RECORD = ".geotile-run.json"


def parts_folder(outdir) -> Path:
    return Path(outdir) / PARTS


def empty_folder(folder: Path) -> None:
    """Remove what ``folder`` holds (not the folder: its lock stays with it)."""
    with contextlib.suppress(OSError):
        for entry in list(folder.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def lock_parts(parts: Path) -> int | None:
    """Make ``parts`` and hold an exclusive lock on it for the run (a descriptor to close at
    its end; None where the system has no flock). Two runs into one folder would remove each
    other's cut images: a second run while one is writing is refused."""
    try:
        import fcntl
    except ImportError:  # Windows
        parts.mkdir(parents=True, exist_ok=True)
        return None
    outdir = parts.parent
    for _ in range(100):
        try:
            parts.mkdir(parents=True, exist_ok=True)
            handle = os.open(parts, os.O_RDONLY)
        except FileNotFoundError:  # the run holding it removed it meanwhile
            continue
        except OSError as exc:
            from geotile.output_folder import output_os_error

            raise output_os_error(exc, outdir) from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            raise OutputExistsError(
                f"{outdir}: another `geotile tile` run is writing there now; wait for it to "
                "end (then pass --overwrite to replace its output), or give another output "
                "folder.") from None
        try:
            if os.path.samestat(os.fstat(handle), os.stat(parts)):
                return handle
        except OSError:
            pass
        os.close(handle)  # locked as the run holding it removed it: take the new one
    raise OutputExistsError(f"{outdir}: other `geotile tile` runs keep writing there; give "
                            "another output folder.")


def remove_staging(outdir: Path, keep: str) -> None:
    """Remove the staging folders a killed run left in ``outdir`` (the names staged_folder
    gives: ``.geotile-tile-<8 hex>.tmp``), but this run's ``keep``."""
    from geotile.output_folder import STAGING_PREFIX, STAGING_SUFFIX

    pattern = re.compile(rf"{re.escape(STAGING_PREFIX)}[0-9a-f]{{8}}{re.escape(STAGING_SUFFIX)}")
    if outdir.is_dir():
        for entry in outdir.iterdir():
            if pattern.fullmatch(entry.name) and entry.name != keep and entry.is_dir() \
                    and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


def remove_leftovers(outdir: Path, run_key: str, stems) -> None:
    """A --resume finding ``outdir`` complete: remove the parts folder (and staging folders)
    that a run of ``run_key`` left when it was killed once its output was in place; where
    the run record went first (a run emptying it), only the parts of this run's images
    (``stems``), never what else the folder holds; never another run's parts to go on
    from, nor while a run writes there."""
    parts = parts_folder(outdir)
    if not parts.is_dir():
        return
    recorded = read_record(parts / RUN_RECORD).get("run")
    if recorded is None:
        _remove_parts_of(parts, stems)
        return
    if recorded != run_key:
        return
    try:
        lock = lock_parts(parts)
    except OutputExistsError:  # a run writing there now
        return
    try:
        remove_staging(outdir, keep="")
        empty_folder(parts)
        with contextlib.suppress(OSError):
            parts.rmdir()
    finally:
        if lock is not None:
            os.close(lock)


def _remove_parts_of(parts: Path, stems) -> None:
    """Remove the part folders of ``stems`` from ``parts`` (a folder without run record),
    and ``parts`` once empty: anything else in it is not known to be geotile's."""
    try:
        lock = lock_parts(parts)
    except OutputExistsError:  # a run writing there now
        return
    try:
        for stem in stems:
            part = parts / stem
            if part.is_dir() and not part.is_symlink():
                shutil.rmtree(part, ignore_errors=True)
        with contextlib.suppress(OSError):
            parts.rmdir()
    finally:
        if lock is not None:
            os.close(lock)


def holds_geotile_output(outdir: Path) -> bool:
    from geotile.output_folder import geotile_files

    return outdir.is_dir() and bool(geotile_files(outdir)[0])


def check_resumable(outdir: Path, run_key: str) -> None:
    """Refuse a --resume into ``outdir``'s earlier output unless it was made with the same
    options and inputs (by an older geotile, or from inputs changed since), or a killed
    --overwrite run of this run's key was replacing it."""
    from geotile.output_folder import MARKER

    killed = read_record(parts_folder(outdir) / RUN_RECORD)
    marker = read_record(outdir / MARKER)
    if marker.get("run") == run_key or (
            killed.get("run") == run_key and killed.get("overwrite") is True):
        return
    if "complete" in marker and "run" not in marker:  # options not recorded: cannot tell
        raise OutputExistsError(
            f"{outdir}: holds the output of an earlier version of geotile, which did not "
            "record the options it was cut with, so --resume cannot tell it from another "
            "run's. Pass --overwrite (without --resume) to cut it again, or give another "
            "output folder.")
    raise OutputExistsError(
        f"{outdir}: holds the output of an earlier `geotile tile` with other options or "
        "inputs; --resume only continues a killed run of the same ones. Pass --overwrite "
        "(without --resume) to replace it, or give another output folder.")


def read_record(path: Path) -> dict:
    """The JSON object a run wrote at ``path`` (marker, completion or run record); {} when
    it is missing or unreadable."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(found, dict):
            return found
    return {}
