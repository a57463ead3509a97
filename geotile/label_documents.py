"""Which label document a parsed JSON file (or an XML file, a Labelbox export) is, for the
readers of labels in each image's pixels (:mod:`geotile.coco_labels`,
:mod:`geotile.labelme_labels`, :mod:`geotile.via_labels`, :mod:`geotile.cvat_labels`,
:mod:`geotile.darwin_labels`, :mod:`geotile.datumaro_labels`,
:mod:`geotile.labelbox_labels`...) and for
:mod:`geotile.labels`, which refuses them as vector labels: plain predicates, importing
nothing of geotile but :mod:`geotile.json_text`'s readers."""
from __future__ import annotations

import os
import re
from pathlib import Path

#: bytes of an XML file's start read to tell CVAT's
CVAT_SNIFF_BYTES = 1 << 12
_CVAT_ROOT = re.compile(rb"<annotations[\s>]")
#: suffixes of Labelbox's exports (v2: .ndjson; v1: .json)
LABELBOX_SUFFIXES = (".ndjson", ".jsonl", ".json")
#: keys of a Labelbox row near a file's start: worth reading its first row to see
_LABELBOX_SNIFF = re.compile(rb'"(?:data_row|Labeled Data|DataRow ID|External ID)"\s*:')
LABELBOX_SNIFF_BYTES = 1 << 16
#: the longest first line read to tell an NDJSON export (a row of many objects is long)
FIRST_LINE_BYTES = 1 << 26


def is_coco(document) -> bool:
    """Whether a parsed JSON document is (meant as) a COCO instances file: an object with
    ``images`` or ``annotations`` and no GeoJSON ``type``."""
    return (isinstance(document, dict) and "type" not in document
            and ("images" in document or "annotations" in document))


def is_coco_results(document) -> bool:
    """Whether a parsed JSON document is COCO results (Detectron2's, mmdet's): a list of
    detections, each with ``image_id``, ``category_id`` and ``score``."""
    return (isinstance(document, list) and bool(document) and all(
        isinstance(item, dict) and {"image_id", "category_id", "score"} <= set(item)
        for item in document[:100]))


def is_labelme(document) -> bool:
    """Whether a parsed JSON document is a Labelme file: a ``shapes`` list beside
    ``imageHeight``/``imageWidth`` or ``imagePath``."""
    return (isinstance(document, dict) and isinstance(document.get("shapes"), list)
            and ("imagePath" in document or "imageHeight" in document
                 or "imageWidth" in document))


def is_labelstudio(document) -> bool:
    """Whether a parsed JSON document is a Label Studio export: tasks (``data`` beside
    ``annotations``, ``predictions`` or ``completions``) as its JSON export lists them (or
    one such task), or JSON_MIN's records (``annotation_id`` beside ``id``)."""
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(isinstance(item, dict) and (
        (isinstance(item.get("data"), dict)
         and any(isinstance(item.get(k), list)
                 for k in ("annotations", "predictions", "completions")))
        or ("annotation_id" in item and "id" in item)) for item in items[:100])


def is_darwin(document) -> bool:
    """Whether a parsed JSON document is a Darwin JSON file: 2.0's ``item`` (with ``slots``
    or ``name``) or 1.0's ``image`` (not COCO's of a ``file_name``, as SA-1B's per-image
    files) beside an ``annotations`` list."""
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        return False
    item, image = document.get("item"), document.get("image")
    return (isinstance(item, dict) and ("slots" in item or "name" in item)) or (
        isinstance(image, dict) and "file_name" not in image  # COCO's (SA-1B's): not V7's
        and any(k in image for k in ("width", "height", "filename", "original_filename")))


def is_datumaro(document) -> bool:
    """Whether a parsed JSON document is Datumaro's (a subset's annotations file): a
    ``categories`` object beside an ``items`` list of objects."""
    return (isinstance(document, dict) and isinstance(document.get("categories"), dict)
            and isinstance(document.get("items"), list)
            and all(isinstance(item, dict) for item in document["items"][:100]))


def via_entries(document):
    """The image entries of a parsed VIA 1.x/2.x document (an export, or a project's
    ``_via_img_metadata``), None when it is none."""
    if not isinstance(document, dict) or "type" in document:
        return None
    if isinstance(document.get("_via_img_metadata"), dict):
        return document["_via_img_metadata"]
    if not document or not all(isinstance(e, dict) and "filename" in e and "regions" in e
                               for e in document.values()):
        return None
    return document


def is_via3(document) -> bool:
    """Whether a parsed JSON document is a VIA 3.x project (project, file, metadata)."""
    return (isinstance(document, dict) and isinstance(document.get("project"), dict)
            and isinstance(document.get("metadata"), dict) and "file" in document)


def is_via(document) -> bool:
    """Whether a parsed JSON document is VIA's (1.x, 2.x or a 3.x project)."""
    return via_entries(document) is not None or is_via3(document)


def is_cvat_file(path) -> bool:
    """Whether ``path`` is a local file whose start is CVAT's XML root (``<annotations>``
    beside ``<version>``, ``<meta>`` or ``<image``)."""
    path = Path(os.fspath(path))
    try:
        if not path.is_file():
            return False
        with path.open("rb") as handle:
            head = handle.read(CVAT_SNIFF_BYTES)
    except OSError:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16
        head = head.decode("utf-16", "ignore").encode()
    match = _CVAT_ROOT.search(head)
    return match is not None and any(
        key in head[match.start():] for key in (b"<version", b"<meta", b"<image"))


def is_labelbox_row(item) -> bool:
    """Whether a parsed JSON value is a Labelbox row: v2's (``data_row`` beside ``projects``
    or ``media_attributes``) or v1's (``Labeled Data`` or ``External ID`` beside ``Label``)."""
    return isinstance(item, dict) and (
        (isinstance(item.get("data_row"), dict)
         and ("projects" in item or "media_attributes" in item))
        or (("Labeled Data" in item or "External ID" in item) and "Label" in item))


def is_labelbox(document) -> bool:
    """Whether a parsed JSON document is a Labelbox export (a list of rows, or one row)."""
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(is_labelbox_row(item) for item in items[:100])


def is_labelbox_file(path) -> bool:
    """Whether ``path`` is a local Labelbox export: an NDJSON file whose first line is a v2
    row, or a JSON file of rows (its start names a row's key: then it is read)."""
    from geotile.json_text import holds, sniffed

    if not isinstance(path, str | os.PathLike):
        return False
    path = Path(os.fspath(path))
    if path.suffix.lower() not in LABELBOX_SUFFIXES \
            or not sniffed(path, _LABELBOX_SNIFF, LABELBOX_SNIFF_BYTES):
        return False
    if is_labelbox_row(first_json_line(path)) or ndjson_row(path) is not None:
        return True
    return path.suffix.lower() == ".json" and holds(path, is_labelbox)


def ndjson_row(path: Path) -> dict | None:
    """The first v2 row (an object of ``data_row``) of an NDJSON export: its first line's,
    or, where that is an object cut short or broken (its reader then names line 1), the
    next line's; None where neither is."""
    from geotile.json_text import loads

    first = first_json_line(path)
    if first is not None:
        return first if isinstance(first, dict) and isinstance(first.get("data_row"), dict) \
            else None
    try:
        with path.open("rb") as handle:
            line = handle.readline(FIRST_LINE_BYTES).removeprefix(b"\xef\xbb\xbf")
            if not line.lstrip().startswith(b"{") or not line.endswith(b"\n"):
                return None
            following = b""
            while not following.strip():
                following = handle.readline(FIRST_LINE_BYTES)
                if not following:
                    return None
        row = loads(following)
    except (OSError, ValueError, RecursionError):
        return None
    return row if isinstance(row, dict) and isinstance(row.get("data_row"), dict) else None


def first_json_line(path: Path):
    """The first line of ``path`` parsed as JSON (None where it is none, or too long)."""
    from geotile.json_text import loads

    try:
        with path.open("rb") as handle:
            line = handle.readline(FIRST_LINE_BYTES).removeprefix(b"\xef\xbb\xbf")
        return loads(line) if line.strip() else None
    except (OSError, ValueError, RecursionError):
        return None
