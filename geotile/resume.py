"""Resumable runs: a completion tag in every raster output, and the checks of ``--resume``.

Every GeoTIFF that predict and make-masks write carries ``GEOTILE_COMPLETE=<digest>``, a
hash of the command, of everything that decides the output's bytes (its options), of the
inputs' identity (path, size, modification time) and of geotile's code (a fingerprint of
its source files, :mod:`geotile.code_fingerprint`: ``__version__`` stays the same while
what the outputs hold changes). The tag is in the TIFF directory, which GDAL writes last,
at close, and the file only appears under its final name after it was verified and
renamed (:func:`geotile.output_files.atomic_output`): a tagged file under its final name
is complete. The library computes the digest (the CLI passes no settings of its own), so the
CLI and the Python API tag the same work alike and resume each other's outputs.

With ``--resume`` (:func:`plan`), an output whose tag equals the digest of this run is
skipped; one that the same command wrote (:func:`written_by`) but with another digest
(other options, changed inputs, another geotile's code: said once, :data:`OTHER_CODE`) or
without the tag is redone; a file it did not write (the user's, another command's) is
never replaced (one-line error). Temporary files that a killed run left beside the outputs
(geotile's own names only, see :func:`geotile.output_files.remove_temporaries`) are removed
first.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from geotile.errors import OutputExistsError
from geotile.input_paths import identity
from geotile.output_owners import OWNERS, written_by
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: the GeoTIFF metadata tag that marks a complete output
TAG = "GEOTILE_COMPLETE"

#: what :func:`plan` decides for one output
SKIP, WRITE, REPLACE = "skip", "write", "replace"

def _files_of(path: str | os.PathLike) -> list:
    """The files an input is read from: itself, a VRT's sources, and the sidecars GDAL reads
    with it (.aux.xml: nodata, scale; .ovr; .msk): a change to any makes another input."""
    from geotile.input_paths import is_virtual_path, subdataset_file
    from geotile.input_sources import files_read
    from geotile.sidecars import gdal_sidecars

    # HDF5:"a.h5"://dataset (a "://" in it) reads a.h5
    if is_virtual_path(os.fspath(path)) and not subdataset_file(path):
        return [path]
    return [*files_read(path), *gdal_sidecars(path)]


def _plain(value: Any) -> Any:
    """``value`` as JSON data (paths as text, tuples as lists, sets sorted)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def input_identities(inputs: Iterable[str | os.PathLike]) -> list:
    """The :func:`identity` of each file ``inputs`` are read from."""
    return [identity(f) for p in inputs for f in _files_of(p)]


def digest(command: str, options: Mapping[str, Any], inputs: Iterable[str | os.PathLike],
           identities: Iterable = ()) -> str:
    """The completion digest of one output: ``command``, its ``options`` (JSON-able, paths
    and tuples allowed), the identity of each input file (then ``identities``, those of
    more inputs, from :func:`input_identities`) and geotile's code (its fingerprint, also
    after the ``-``: :func:`by_other_code` tells an earlier geotile's output)."""
    from geotile.code_fingerprint import fingerprint

    code = fingerprint()
    data = {"command": command, "options": _plain(options),
            "inputs": [*input_identities(inputs), *identities], "code": code}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return f"{hashlib.sha256(text.encode()).hexdigest()[:32]}-{code[:CODE_CHARS]}"


#: how much of geotile's code fingerprint a completion digest ends with
CODE_CHARS = 12

#: said once a run when --resume redoes an output another geotile wrote
OTHER_CODE = ("The earlier outputs that another geotile wrote (other code than this one's, "
              "whose rules may differ) are redone, not kept as complete (--resume).")


def by_other_code(found: str | None) -> bool:
    """Whether a completion digest ``found`` (a tag, a record; None: none) was made by
    another geotile's code than this one's (one of before the code was in it included)."""
    from geotile.code_fingerprint import fingerprint

    return bool(found) and not found.endswith(f"-{fingerprint()[:CODE_CHARS]}")


def say_other_code(found: str | None) -> None:
    """Warn (:data:`OTHER_CODE`, one line however many outputs) when ``found`` is another
    geotile's completion digest."""
    if by_other_code(found):

        from geotile.errors import GeotileWarning

        warn(OTHER_CODE, GeotileWarning)


def settings_key(command: str, settings: Mapping[str, Any]) -> str:
    """A hash of ``command`` and its ``settings`` only (paths as written: no file identity, no
    geotile version)."""
    text = json.dumps({"command": command, "settings": _plain(settings)}, sort_keys=True,
                      separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_tags(path: str | os.PathLike) -> dict[str, str] | None:
    """The default-domain tags of a raster, or None when it is not one GDAL can open."""
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as src:
            return src.tags()
    except RasterioError:
        return None


def plan(output: str | os.PathLike, wanted: str, command: str, sidecar: bool = False) -> str:
    """What ``--resume`` of ``command`` (a key of :data:`OWNERS`) does with ``output``: SKIP
    (complete, tag == ``wanted``), WRITE (absent) or REPLACE (that command wrote it, but not
    complete for these options). Raises OutputExistsError for a file it did not write.
    ``sidecar``: the output is complete only with its PAM sidecar (category names), which
    atomic_output moves in after it."""
    from geotile.output_files import pam_sidecar, remove_temporaries

    final = Path(output)
    remove_temporaries(final)
    if not final.exists():  # its category names left alone (rm of the .tif): redone
        return REPLACE if sidecar and _orphan_category_sidecar(final) else WRITE
    tags = read_tags(final)
    if tags is not None and tags.get(TAG) == wanted and (
            not sidecar or pam_sidecar(final).is_file()) and _whole(final):
        return SKIP
    _refuse_foreign(final, tags, command)
    say_other_code(tags.get(TAG) if tags else None)
    return REPLACE


#: what a PAM sidecar of geotile's holds: a band's category names and attribute table
_CATEGORY_ELEMENTS = {"CategoryNames", "GDALRasterAttributeTable"}


def _orphan_category_sidecar(final: Path) -> bool:
    """Whether the only GDAL sidecar beside the absent ``final`` is its .aux.xml of category
    names as geotile writes them (nothing another tool adds: statistics, metadata), so that
    --resume may replace it with the output it redoes."""
    import xml.etree.ElementTree as ElementTree

    from geotile.output_files import pam_sidecar
    from geotile.sidecars import gdal_sidecars

    pam = pam_sidecar(final)
    if gdal_sidecars(final) != [pam] or not pam.is_file() or pam.stat().st_size > 1 << 20:
        return False
    try:
        root = ElementTree.parse(pam).getroot()
    except (ElementTree.ParseError, OSError):
        return False
    return root.tag == "PAMDataset" and len(root) > 0 and all(
        band.tag == "PAMRasterBand" and len(band) > 0
        and all(child.tag in _CATEGORY_ELEMENTS for child in band) for band in root)


def refuse_foreign(outputs: Iterable[str | os.PathLike], command: str) -> None:
    """Before any work: the OutputExistsError of :func:`plan` for the first of ``outputs``
    that exists and was not written by ``command``, so that a batch stops before its first
    image, not when it reaches that output."""
    for output in outputs:
        if Path(output).exists():
            _refuse_foreign(Path(output), read_tags(output), command)


def _refuse_foreign(final: Path, tags: dict[str, str] | None, command: str) -> None:
    if written_by(tags, command):
        return
    other = next((c for c in OWNERS if c != command and written_by(tags, c)), None)
    what = (f"was written by geotile {other}, not {command}" if other else
            f"was not written by geotile {command} (or was cut short within its header)")
    raise OutputExistsError(f"{final}: exists and {what}, so --resume will not replace it. "
                            "Move it away, or pass --overwrite (without --resume) to replace "
                            "it.")


def completed_as(wanted: str):
    """For :func:`geotile.output_files.atomic_output`'s ``written_meanwhile``: whether a file
    that appeared while this run wrote it is complete with the completion tag ``wanted``
    (its PAM sidecar in place where it has one, its blocks whole: a copy killed keeps the
    tag in its header), the same output, written by another run. Picklable: it travels
    back from a cluster's task with its output (geotile.output_files.task_output)."""
    return functools.partial(_complete_as, wanted)


def _complete_as(wanted: str, final: Path, sidecar: bool) -> bool:
    from geotile.output_files import pam_sidecar

    if sidecar and not pam_sidecar(final).is_file():
        return False
    return (read_tags(final) or {}).get(TAG) == wanted and _whole(final)


def _whole(path: Path) -> bool:
    """Whether every block of a GeoTIFF lies inside the file: one cut short after the run
    (a killed copy, a full disk) keeps its header, completion tag included."""
    from geotile.errors import InputError
    from geotile.output_files import verify_geotiff

    try:
        verify_geotiff(path)
    except InputError:
        log.info("%s: cut short, redone (--resume)", path)
        return False
    return True
