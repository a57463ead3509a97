"""An instance model's COCO results file as evaluate's PREDICTION: detectron2's
coco_instances_results.json, MMDetection's ``*.segm.json``, Ultralytics' predictions.json
(``val save_json=True``): a JSON list of ``{image_id, category_id, segmentation, score,
bbox}``, scored against the COCO instances file (TRUTH) whose images they name.

Each result is one polygon, its mask's pixels (compressed or uncompressed RLE, or polygons,
read as make-masks reads COCO's: :func:`geotile.coco_labels.coco_geometry`), so that
overlapping masks are scored each on its own, as COCO scores them. Its ``image_id`` is an
image id of TRUTH, or (Ultralytics', of an image whose stem is no number) that image's file
stem; its ``category_id`` a category of TRUTH. Each image of TRUTH is scored as two polygon
files are (:mod:`geotile.object_scores`: decreasing score, one-to-one at IoU > --iou), in
its pixels; crowd regions are ignored as for a vector prediction against COCO truth
(:mod:`geotile.pixel_truth`); an image without results has every instance a false negative,
as COCO counts it. Totals are summed, SpaceNet's way; per category where TRUTH has several.
Results scoring below ``min_score`` are left out: frameworks write every detection down to
0.05 (Ultralytics 0.001) for COCO's AP, which an F1 over all of them misjudges.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputError, UsageError
from geotile.folder_evaluation import ManyEvaluation
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: a JSON list opening with an object that names an image_id, or an empty list
_SNIFF = re.compile(rb'\A\s*\[\s*(?:\]\s*\Z|\{[^\[\]]*?"image_id"\s*:)')
SNIFF_BYTES = 1 << 16
#: zlib's wbits for a gzip stream
GZIP_WBITS = 31
#: a score below which detections are what frameworks keep for COCO's AP only
LOW_SCORE = 0.5
#: share of results below LOW_SCORE, without --min-score, that is warned of
LOW_SHARE = 0.1


def is_coco_results(path) -> bool:
    """Whether ``path`` is a local .json file (or .json.gz) holding a list of COCO results
    (its first object naming an image_id), or an empty list."""
    from geotile.json_text import sniffable, sniffed

    if not _named_json_gz(path):
        return sniffed(path, _SNIFF, SNIFF_BYTES, ".json")
    try:
        with open(path, "rb") as handle:  # what the first bytes unpack to (cut short too)
            head = zlib.decompressobj(GZIP_WBITS).decompress(handle.read(SNIFF_BYTES),
                                                             SNIFF_BYTES)
    except (OSError, zlib.error):
        return False
    return _SNIFF.search(sniffable(head)) is not None


def _named_json_gz(path) -> bool:
    """Whether ``path`` names a gzip-compressed JSON file (results.json.gz)."""
    return isinstance(path, str | os.PathLike) and \
        os.fspath(path).lower().endswith(".json.gz")


def refuse_as_truth(truth) -> None:
    """InputError when TRUTH is a COCO results file: a model's predictions, given second."""
    if is_coco_results(truth):
        raise InputError(f"{truth}: a COCO results file (a model's predictions) given as "
                         "TRUTH: give it first, as PREDICTION, and the COCO annotation file "
                         "as TRUTH.")


class _Unpacked:
    """A .json.gz file as read_json reads a path: named as it, its bytes unpacked."""

    def __init__(self, path: Path, raw: bytes):
        self.path, self.raw = path, raw

    def __str__(self) -> str:
        return str(self.path)

    def read_bytes(self) -> bytes:
        return self.raw


@dataclass
class ResultsEvaluation(ManyEvaluation):
    """:class:`~geotile.folder_evaluation.ManyEvaluation` of a results file's images, and
    the --min-score it was scored at (None: every result)."""

    min_score: float | None = None

    def as_dict(self) -> dict:
        return {**super().as_dict(), "min_score": self.min_score}

    def table(self) -> str:
        lines = super().table().split("\n")
        if self.min_score is not None:
            lines[0] += f", results scoring >= {self.min_score:g}"
        return "\n".join(lines)


def _read(path: Path) -> list:
    from geotile.json_text import read_json

    give = ("Give a COCO results file: a list of {image_id, category_id, segmentation, "
            "score}.")
    if _named_json_gz(path):
        try:
            raw = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a whole gzip file ({exc}). Download or compress "
                             f"it again, or give the plain .json. {give}") from exc
        document = read_json(_Unpacked(path, raw), give)
    else:
        document = read_json(path, give)
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise InputError(f"{path}: not a COCO results file (a JSON list of objects). {give}")
    return document


def _images(coco, path: Path, results: list) -> list:
    """Each result's image entry of ``coco``: by image id, else by file stem (Ultralytics'
    image_id: the stem, int(stem) where it is a number); by stem throughout where an int is
    one image's id and another's number and only stems pair every result; InputError naming
    the image ids that are neither, or such an int where both readings pair every result."""
    from geotile.coco_labels import is_listed
    from geotile.name_keys import name_key

    by_id = {e["id"]: e for found in coco.by_name.values() for e in found}
    stems: dict = {}
    for entry in by_id.values():  # in NFC: Ultralytics on macOS writes stems decomposed
        stem = name_key(Path(entry["file_name"].replace("\\", "/")).stem)
        stems.setdefault(stem, []).append(entry)
        if stem.isdecimal():  # Ultralytics: int(stem) if stem.isnumeric()
            stems.setdefault(int(stem), []).append(entry)
    keys = [result.get("image_id") for result in results]
    as_ids = [by_id[k] if is_listed(k, by_id) else None for k in keys]
    as_stems = [_by_stem(stems, k) for k in keys]
    clash = next((i for i, (a, b) in enumerate(zip(as_ids, as_stems, strict=True))
                  if a is not None and b is not None and a is not b), None)
    by_stem = clash is not None and all(e is not None for e in as_stems)
    if by_stem and all(e is not None for e in as_ids):
        key, one, other = keys[clash], as_ids[clash], as_stems[clash]
        raise InputError(f"{path}: image_id {key!r} is the id of {one['file_name']} in "
                         f"{coco.path} and the number of {other['file_name']} (Ultralytics "
                         "writes image_id as the file's number), and either reading pairs "
                         "every result. Give results whose image_id are the truth's ids "
                         "(detectron2's, MMDetection's), or a truth whose ids are its files' "
                         "numbers.")
    entries, unknown = [], {}
    for key, one, other in zip(keys, as_ids, as_stems, strict=True):
        if by_stem:  # Ultralytics': every result pairs by its file's stem (number)
            found = other
        else:  # by id; by stem where no id clashes with a number (and always a string)
            found = one if one is not None else other \
                if clash is None or isinstance(key, str) else None
        entries.append(found)
        if found is None:
            unknown[repr(key)] = unknown.get(repr(key), 0) + 1
    if unknown:
        shown = ", ".join(f"{k} ({n} result{'s' if n > 1 else ''})"
                          for k, n in list(unknown.items())[:3])
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        ids = ", ".join(map(str, list(by_id)[:3]))
        raise InputError(f"{path}: image_id {shown}{more} name no image of {coco.path} (its "
                         f"ids: {ids}{', ...' if len(by_id) > 3 else ''}; or a file stem). "
                         "Give the results of the truth's images, or the truth file they "
                         "were made on.")
    return entries


def _by_stem(stems: dict, key) -> dict | None:
    """The one image entry of file stem (or number) ``key``; of two spellings of one stem
    (Zürich_1.tif in NFC and NFD, both listed), the one spelled as ``key``; else None."""
    from geotile.name_keys import name_key, raw_name

    if not isinstance(key, str | int) or isinstance(key, bool):
        return None
    found = stems.get(name_key(key) if isinstance(key, str) else key, [])
    if len(found) > 1 and isinstance(key, str):
        found = [e for e in found
                 if Path(raw_name(e["file_name"])).stem == key] or found
    return found[0] if len(found) == 1 else None


def _categories(coco, path: Path, results: list) -> list:
    """Each result's class name (None: a category make-masks burns as background);
    InputError naming the category ids TRUTH lacks."""
    from geotile.coco_labels import is_listed

    unknown = {}
    for result in results:
        key = result.get("category_id")
        if not is_listed(key, coco.categories):
            unknown[repr(key)] = unknown.get(repr(key), 0) + 1
    if unknown:
        shown = ", ".join(f"{k} ({n} result{'s' if n > 1 else ''})"
                          for k, n in list(unknown.items())[:3])
        has = ", ".join(f"{k} {v}" for k, v in list(coco.categories.items())[:5])
        raise InputError(f"{path}: category_id {shown} is no category of {coco.path} (it "
                         f"has {has}). Number the results' categories as the truth does.")
    return [coco.categories[r["category_id"]] if coco.categories[r["category_id"]] in
            coco.class_map else None for r in results]


def _scores(path: Path, results: list, key: str) -> np.ndarray:
    """Each result's ``key`` (score) as a number; InputError naming the first that is not."""
    values = []
    for index, result in enumerate(results):
        value = result.get(key)
        if key not in result:
            raise InputError(f"{path}: result [{index}] has no {key!r}. Give --conf-field the "
                             "key of the results' confidence (default score), or '' to score "
                             "in file order.")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise InputError(f"{path}: result [{index}] has {key} {value!r}, not a number. "
                             f"Give each result its confidence in {key!r} (--conf-field "
                             "names another key; '' scores in file order).")
        values.append(float(value))
    return np.asarray(values, dtype=np.float64)


def _warn_low(path: Path, scores: np.ndarray) -> None:
    """A warning when many results score below :data:`LOW_SCORE` and no --min-score is
    given: each is scored as a prediction."""
    low = int((scores < LOW_SCORE).sum())
    if low and low >= LOW_SHARE * len(scores):
        warn(f"{path}: {low} of {len(scores)} results score below {LOW_SCORE:g} (the "
             f"lowest {scores.min():.3g}) and each is scored as a prediction; "
             "frameworks write detections down to 0.05 for COCO's AP. Give "
             "--min-score (the score the model is used at, e.g. 0.5) to score those "
             "it keeps.", GeotileWarning)


def _what(result: dict, index: int) -> str:
    return f"result [{index}] (image_id {result.get('image_id')!r})"


def _shape(path: Path, result: dict, entry: dict, index: int, slivers: list):
    from geotile.coco_labels import coco_geometry, short_json

    what = _what(result, index)
    segmentation = result.get("segmentation")
    if segmentation is None or segmentation == []:
        raise InputError(f"{path}: {what} has segmentation {short_json(segmentation)}, a box "
                         "only: evaluate scores masks. Give the instance-segmentation results "
                         "(MMDetection's *.segm.json, not *.bbox.json; detectron2's of a mask "
                         "model).")
    return coco_geometry(path, result, entry, index, slivers, what)


def _shapes(path: Path, rows: list, entries: list, kept: np.ndarray) -> dict:
    """image id -> its ``kept`` results, each (position, its shape; None for an RLE, whose
    outline :func:`_image_shapes` draws when its image is scored: the masks of one image at
    a time, not every one at once); InputError for the first broken one. A polygon without
    area is no object."""
    from geotile.coco_labels import rle_runs

    by_image: dict = {}
    slivers: list = []
    for index in np.flatnonzero(kept).tolist():
        entry, result = entries[index], rows[index]
        segmentation = result.get("segmentation")
        if isinstance(segmentation, dict):
            rle_runs(path, _what(result, index), segmentation, entry)  # refused here if broken
            geometry = None
        else:
            geometry = _shape(path, result, entry, index, slivers)
            if geometry is None or geometry.is_empty:
                continue
        by_image.setdefault(entry["id"], []).append((index, geometry))
    if slivers:
        log.info("%s: %d polygon(s) without area left out", path, len(slivers))
    return by_image


def _image_shapes(path: Path, rows: list, entry: dict, listed: list) -> tuple[list, list]:
    """(the positions of an image's results with a shape, those shapes), of its
    :func:`_shapes`: its RLE masks outlined together (a mask without pixels is no object)."""
    from geotile.coco_labels import rle_outlines, rle_pieces, rle_runs

    masks = [i for i, (_, geometry) in enumerate(listed) if geometry is None]
    shapes = [geometry for _, geometry in listed]
    height = int(entry["height"])
    for i, outline in zip(masks, rle_outlines([rle_pieces(rle_runs(
            path, "", rows[listed[i][0]]["segmentation"], entry), height) for i in masks]),
                          strict=True):
        shapes[i] = outline
    held = [i for i, shape in enumerate(shapes) if shape is not None and not shape.is_empty]
    return [listed[i][0] for i in held], [shapes[i] for i in held]


def _image_truth(coco, entry: dict):
    """(``entry``'s instances as a GeoDataFrame in its pixels, field "class"; its crowd
    regions), as evaluate reads COCO truth on a plain image."""
    from affine import Affine

    from geotile.coco_labels import CATEGORY, CROWD, image_labels
    from geotile.image_truth import ImageTruth
    from geotile.masks import IGNORE, prepare_labels
    from geotile.pixel_truth import truth_polygons

    labels = image_labels(coco, entry, Affine.identity(), None)
    frame, names = prepare_labels(labels, None, coco.path, CATEGORY, coco.class_map)
    frame = frame.replace(class_id=np.where(frame.fields[CROWD], IGNORE,
                                            frame.fields["class_id"]))
    one = ImageTruth(Path(entry["file_name"]), coco.path, None, labels, frame, names,
                     CATEGORY, coco.class_map, coco.several, entry["file_name"])
    return truth_polygons(one, None)


def _score_image(pred, truth, ignored, *, iou, min_area, conf_field, source, several,
                 repair_truth):
    """ObjectEvaluation of one image's predictions (a GeoDataFrame, fields class and the
    confidence) against its truth, as :func:`geotile.object_scores.evaluate_vectors`."""
    from geotile.object_scores import (
        ObjectEvaluation,
        apply_min_area,
        match_polygons,
        outside_ignored,
        scoring_order,
    )

    pred, truth = apply_min_area(pred, truth, min_area)
    pred, conf_field = scoring_order(pred, conf_field, source)
    truth = truth.reset_index(drop=True)
    if len(ignored):
        pred = outside_ignored(pred, truth, ignored, iou, repair_truth)
    scores = match_polygons(pred.geometry.values, truth.geometry.values, iou,
                            repair_truth=repair_truth)
    per_class = {}
    if several:
        pred_class = np.asarray(pred["class"], dtype=object)
        true_class = np.asarray(truth["class"], dtype=object)
        for name in sorted(set(pred_class) | set(true_class)):
            per_class[name] = match_polygons(pred.geometry.values[pred_class == name],
                                             truth.geometry.values[true_class == name], iou,
                                             repair_truth=repair_truth)
    return ObjectEvaluation(scores, pred, truth, per_class, conf_field=conf_field,
                            inputs=(source,))


def evaluate_coco_results(results, truth, *, iou: float = 0.5,
                          min_score: float | None = None, conf_field: str | None = None,
                          min_area: float = 0.0,
                          repair_truth: bool = False) -> ResultsEvaluation:
    """Object scores of the COCO results file ``results`` against the COCO instances file
    ``truth``, image by image (every image of ``truth``) and in total; results whose
    confidence (``conf_field``, default score; '' for file order) is below ``min_score``
    left out, and ``min_area`` in px^2."""
    import geopandas as gpd

    from geotile.coco_labels import base_name, base_path, read_coco

    path, truth = Path(os.fspath(results)), Path(os.fspath(truth))
    coco = read_coco(truth) if truth.is_file() else None
    if coco is None:
        refuse_as_truth(truth)
        raise InputError(f"{path}: a COCO results file, whose image_ids name the images of a "
                         f"COCO annotation file (images, annotations, categories); {truth} is "
                         "none (YOLO, Labelme and other labels list no image ids). Give TRUTH "
                         "as the COCO file the model was validated on (geotile tile "
                         "--annotations coco writes one).")
    rows = _read(path)
    key = "score" if conf_field is None else conf_field
    if min_score is not None and not key:
        raise UsageError("--min-score keeps results by their score: leave out --conf-field ''.")
    scores = _scores(path, rows, key) if key else np.zeros(len(rows))
    entries = _images(coco, path, rows)
    names = _categories(coco, path, rows)
    kept = np.ones(len(rows), bool) if min_score is None else scores >= min_score
    if min_score is not None:
        log.info("--min-score %g leaves out %d of %d results", min_score,
                 int((~kept).sum()), len(rows))
    kept &= np.array([n is not None for n in names], dtype=bool)  # background: no object
    by_image = _shapes(path, rows, entries, kept)
    if min_score is None and key:  # once every result is read: refusals come first
        _warn_low(path, scores)
    shared = {n for n, found in coco.by_name.items() if len(found) > 1}
    per_image, files = {}, {}
    conf = key or None
    for entry in (e for found in coco.by_name.values() for e in found):
        indices, shapes = _image_shapes(path, rows, entry, by_image.get(entry["id"], []))
        data = {"class": [names[i] for i in indices]}
        if conf:
            data[conf] = scores[indices]
        pred = gpd.GeoDataFrame(data, geometry=shapes)
        truth_frame, ignored = _image_truth(coco, entry)
        name = entry["file_name"]
        name = base_path(name) if base_name(name) in shared else base_name(name)
        per_image[name] = _score_image(
            pred, truth_frame, ignored, iou=iou, min_area=min_area, conf_field=conf or "",
            source=path, several=coco.several, repair_truth=repair_truth)
        files[name] = (str(path), entry["file_name"])
    return ResultsEvaluation(per_image, files, "object", iou, min_area, area_unit="px^2",
                             min_score=min_score)
