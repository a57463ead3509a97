"""DOTA's labelTxt files: which .txt files LABELS holds (one file, a DOTA root's labelTxt/,
a folder or pattern listed as YOLO's are) and whether they are DOTA's (the first line that
holds anything a header or an object line), for :mod:`geotile.dota_labels`, which reads
them, and :mod:`geotile.labels`, which refuses them as vector labels."""

from __future__ import annotations

import os
import re
from pathlib import Path

SUFFIX = ".txt"
#: a DOTA root's folder of label files
LABEL_FOLDER = "labelTxt"
#: a header line (imagesource:GoogleEarth, gsd:0.146, gsd:null, acquisition dates:None)
HEADER = re.compile(r"[A-Za-z][A-Za-z0-9 _-]*:")
#: the bytes of a file read to tell DOTA's from YOLO's, and the files read for that
SNIFF_BYTES = 1 << 12
SNIFF_FILES = 64


def label_files(labels) -> list[Path] | None:
    """The .txt files of LABELS read as DOTA's would be: one .txt file, a DOTA root's
    labelTxt/ files, or a folder's (a pattern's) as YOLO's are listed; None otherwise."""
    from geotile.yolo_labels import label_files as text_files

    if not isinstance(labels, str | os.PathLike):
        return None
    path = Path(os.fspath(labels))
    if path.is_file():
        return [path] if path.suffix.lower() == SUFFIX else None
    if path.is_dir() and (path / LABEL_FOLDER).is_dir():
        return text_files(path / LABEL_FOLDER) or []
    return text_files(labels)


def is_dota_labels(labels) -> bool:
    """Whether LABELS is DOTA's labelTxt: its first file holding a line (of the first
    ``SNIFF_FILES``) opens with a header or a DOTA object line; a DOTA root (labelTxt/
    beside its images) of empty files is too."""
    files = label_files(labels)
    if files is None:
        return False
    for path in files[:SNIFF_FILES]:
        verdict = _sniff(path)
        if verdict is not None:
            return verdict
    path = Path(os.fspath(labels))
    return path.is_dir() and (path / LABEL_FOLDER).is_dir()


def _sniff(path: Path) -> bool | None:
    """Whether the first line of ``path`` that holds anything is DOTA's (None: it has none)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(SNIFF_BYTES + 1)
    except OSError:
        return None
    cut = len(head) > SNIFF_BYTES
    text = head[:SNIFF_BYTES].decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = text.splitlines()
    if cut:
        lines = lines[:-1]  # cut short
    for line in lines:
        tokens = line.split()
        if tokens:
            return bool(HEADER.match(line.strip())) or is_object(tokens)
    return None


def is_object(tokens: list[str]) -> bool:
    """Whether ``tokens`` are a DOTA object line: 8 numbers, a name, maybe difficult."""
    return len(tokens) in (9, 10) and numbers(tokens[:8]) and not numbers(tokens[8:9])


def numbers(tokens: list[str]) -> bool:
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True
