"""Which label document a parsed JSON file is, for the readers of labels in each image's
pixels (:mod:`geotile.coco_labels`, :mod:`geotile.labelme_labels`) and for
:mod:`geotile.labels`, which refuses them as vector labels: plain predicates, importing
nothing of geotile."""
from __future__ import annotations


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
