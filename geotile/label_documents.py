"""Which label document a parsed JSON file (or an XML file) is, for the readers of labels in
each image's pixels (:mod:`geotile.coco_labels`, :mod:`geotile.labelme_labels`,
:mod:`geotile.via_labels`, :mod:`geotile.cvat_labels`...) and for :mod:`geotile.labels`, which
refuses them as vector labels: plain predicates, importing nothing of geotile."""
from __future__ import annotations

import os
import re
from pathlib import Path

#: bytes of an XML file's start read to tell CVAT's
CVAT_SNIFF_BYTES = 1 << 12
_CVAT_ROOT = re.compile(rb"<annotations[\s>]")


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
