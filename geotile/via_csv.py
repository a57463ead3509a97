"""VGG Image Annotator's CSV export (VIA 2's "Annotation > Export annotations (as csv)",
VIA 1's) as the image entries VIA's JSON holds.

Followed from ox-vgg/via (via-2.x.y/src/via.js ``pack_via_metadata('csv')`` and
``import_annotations_from_csv``): the first line is exactly ``filename,file_size,
file_attributes,region_count,region_id,region_shape_attributes,region_attributes`` (VIA
1.0's with a leading ``#``); each row is one region of an image (its ``filename`` and
``file_size`` name the image, as VIA's image id ``filename + size``), its attributes JSON
objects in quoted cells (RFC 4180, ``""`` for ``"``); an image without regions is one row of
region_count 0 and ``{}`` shapes, which VIA's import (and this) adds no region for. Rows in
file order are each image's regions in order. A CSV is told by that header only, never
guessed from its cells; a row of other than 7 cells, or a cell that is not what VIA writes,
is refused naming the file and the row (VIA's own import skips such rows silently).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from geotile.errors import InputError
from geotile.short_repr import short_repr

#: VIA 2 (and 1.1)'s header, and VIA 1.0's
HEADERS = ("filename,file_size,file_attributes,region_count,region_id,"
           "region_shape_attributes,region_attributes",
           "#filename,file_size,file_attributes,region_count,region_id,"
           "region_shape_attributes,region_attributes")
_HEAD_BYTES = 256


def is_via_csv(path) -> bool:
    """Whether ``path`` is a local .csv file whose first line is VIA's header."""
    path = Path(os.fspath(path)) if isinstance(path, str | os.PathLike) else None
    try:
        if path is None or path.suffix.lower() != ".csv" or not path.is_file():
            return False
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return False
    line = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    return line.decode("latin-1") in HEADERS


def csv_entries(path: Path) -> dict:
    """The image entries (``filename``, ``size``, ``regions``, ``file_attributes``; each
    region's place, ``row N``, in ``_places``) of the VIA CSV at ``path``, keyed as VIA keys
    them; InputError naming the file and row for a malformed one."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); give VIA's CSV export "
                         "as VIA writes it (UTF-8).") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}).") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries: dict[str, dict] = {}
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # long polygons
    try:
        header = next(reader, None)
        if header is None or ",".join(header) not in HEADERS:
            raise InputError(f"{path}: not VIA's CSV export (its first line is not "
                             f"{HEADERS[0]}). Give VIA's Annotation > Export annotations "
                             "(as csv).")
        for row in reader:
            if not row or row == [""]:
                continue  # a blank line, as VIA skips
            _add(path, reader.line_num, row, entries)
    except csv.Error as exc:
        raise InputError(f"{path}: row {reader.line_num}: not CSV ({exc}). Fix or remove "
                         "the row.") from None
    finally:
        csv.field_size_limit(limit)
    return entries


def _add(path: Path, line: int, row: list[str], entries: dict) -> None:
    """Row ``line``'s region added to its image's entry."""
    where = f"{path}: row {line}"
    if len(row) != 7:
        raise InputError(f"{where} has {len(row)} cells, not VIA's 7 ({HEADERS[0]}); a file "
                         "name with a comma (which VIA writes unquoted)? Fix or remove the "
                         "row.")
    filename, size, file_attributes, count, index, shape, attributes = row
    if not filename.strip():
        raise InputError(f"{where} has no filename. Fix or remove the row.")
    numbers = []
    for name, value in (("file_size", size), ("region_count", count), ("region_id", index)):
        try:
            numbers.append(int(value))
        except ValueError:
            raise InputError(f"{where} has {name} {short_repr(value)}, not a whole number. Fix or "
                             "remove the row.") from None
    cells = [_object(where, name, value) for name, value in (
        ("file_attributes", file_attributes), ("region_shape_attributes", shape),
        ("region_attributes", attributes))]
    key = f"{filename}{numbers[0]}"
    entry = entries.setdefault(key, {"filename": filename, "size": numbers[0], "regions": [],
                                     "file_attributes": cells[0], "_places": []})
    if cells[1] or cells[2]:  # VIA adds a region only where either holds something
        entry["regions"].append({"shape_attributes": cells[1], "region_attributes": cells[2]})
        entry["_places"].append(f"{filename} row {line}")


def _object(where: str, name: str, value: str) -> dict:
    """A cell's JSON object; InputError otherwise."""
    try:
        found = json.loads(value) if value.strip() else {}
    except (ValueError, RecursionError):
        found = None
    if not isinstance(found, dict):
        raise InputError(f"{where} has {name} {short_repr(value)}, not a JSON object (VIA writes "
                         "e.g. \"{\"\"name\"\":\"\"rect\"\",...}\"). Fix or remove the row.")
    return found
