"""Scores of two folders, pair by pair and in total: object scores of vector files or pixel
scores of rasters, 255 and nodata 0 read one way over the whole folder, warnings said once."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.errors import UsageError
from geotile.evaluate import (
    PixelScores,
    add_confusion,
    lost_to_255,
    meaning_of_255,
    pixel_ratios,
    raster_counts,
    warn_nodata_255,
    warn_paired_by_id,
    warn_predicted_no_data,
)
from geotile.folder_pairs import FilePairs, pair_folders
from geotile.object_scores import ObjectEvaluation, ObjectScores, evaluate_vectors
from geotile.plurals import counted
from geotile.score_tables import image_table, shown

log = logging.getLogger("geotile")


def foreground(scores: PixelScores) -> dict:
    """Pixel TP, FP, FN, precision, recall, F1 and IoU of the classes other than background,
    pooled (for a binary raster: the positive class): other than id 0 unless the names call
    it a class (:func:`~geotile.class_keys.zero_is_background`), than a class named
    background and than the truth's no data (:attr:`PixelScores.left_out`)."""
    from geotile.class_keys import class_key, zero_is_background

    c, names = scores.confusion, scores.class_names or []
    kept = np.ones(c.shape[0], bool)
    kept[0] = not zero_is_background(names)
    kept[[i for i, n in enumerate(names[:len(kept)]) if class_key(n) == "background"]] = False
    kept[[i for i in scores.left_out if i < len(kept)]] = False  # no data: no class
    tp = int(np.diag(c)[kept].sum())
    fp, fn = int(c[:, kept].sum()) - tp, int(c[kept, :].sum()) - tp
    ratios = pixel_ratios(tp, fp, fn)
    return {"tp": tp, "fp": fp, "fn": fn, **{k: ratios[k] for k in (
        "precision", "recall", "f1", "iou")}}


def _by_name(parts: list[PixelScores]) -> tuple[list[str] | None, list[np.ndarray]]:
    """One list of class names for many images' scores (the first named one's, extended)
    and each image's confusion matrix on it: named images' classes go by name
    (:func:`~geotile.class_keys.match_class_names`), unnamed ones' by id."""
    from geotile.class_keys import match_class_names

    first = next((p.class_names for p in parts if p.class_names), None)
    if first is None:
        return None, [p.confusion for p in parts]
    names = list(first)
    confusions = []
    for part in parts:
        if not part.class_names:
            confusions.append(part.confusion)
            continue
        own = [part.name(k) for k in range(part.confusion.shape[0])]
        lookup = []
        for name, m in zip(own, match_class_names(own, names), strict=True):
            if m is None:
                m = len(names)
                names.append(name)
            lookup.append(m)
        lookup = np.array(lookup)
        n = max(len(names), int(lookup.max(initial=0)) + 1)
        confusion = np.zeros((n, n), np.int64)
        np.add.at(confusion, (lookup[:, None], lookup[None, :]), part.confusion)
        confusions.append(confusion)
    return names, confusions


def _sum_scores(parts, iou: float) -> ObjectScores:
    parts = list(parts)
    return ObjectScores(sum(p.tp for p in parts), sum(p.fp for p in parts),
                        sum(p.fn for p in parts), iou, [m for p in parts for m in p.matches])


@dataclass
class ManyEvaluation:
    """Scores of many images (pairs of files): per image and in total, the total from the
    summed counts (TP, FP, FN; pixels: the summed confusion matrix), as SpaceNet totals."""

    per_image: dict[str, ObjectEvaluation | PixelScores]
    files: dict[str, tuple[str, str]]
    mode: str
    iou: float = 0.5
    min_area: float = 0.0
    unpaired: dict[str, list[str]] = field(default_factory=dict)
    #: the unit of ``min_area`` (px^2 in an image's pixels)
    area_unit: str = "m^2"

    @property
    def scores(self) -> ObjectScores | PixelScores:
        parts = list(self.per_image.values())
        if self.mode == "object":
            return _sum_scores((p.scores for p in parts), self.iou)
        names, confusions = _by_name(parts)
        total = np.zeros((2, 2), np.int64)
        for confusion in confusions:
            total = add_confusion(total, confusion)
        left = {p.name(k) for p in parts for k in p.left_out}
        return PixelScores(total, names,
                           left_out=tuple(i for i, n in enumerate(names or ()) if n in left))

    @property
    def per_class(self) -> dict[str, ObjectScores]:
        if self.mode != "object":
            return {}
        names = sorted({n for p in self.per_image.values() for n in p.per_class})
        return {n: _sum_scores((p.per_class[n] for p in self.per_image.values()
                                if n in p.per_class), self.iou) for n in names}

    def rows(self) -> dict[str, dict]:
        rows = {}
        for name, part in self.per_image.items():
            pred, true = self.files[name]
            if self.mode == "object":
                row = {k: v for k, v in part.as_dict().items()
                       if k not in ("mode", "iou_threshold", "per_class")}
            else:
                row = {**foreground(part), "accuracy": part.accuracy,
                       "mean_iou": part.as_dict()["mean_iou"], "pixels": part.pixels}
            rows[name] = {"prediction": pred, "truth": true, **row}
        return rows

    def as_dict(self) -> dict:
        total = self.scores.as_dict()
        if self.mode == "object":  # what one pair's scores carry, summed
            parts = [p.as_dict() for p in self.per_image.values()]
            total = {"mode": "object", **total,
                     "predictions": sum(p["predictions"] for p in parts),
                     "truths": sum(p["truths"] for p in parts), "min_area": self.min_area}
            if self.per_class:
                total["per_class"] = {n: s.as_dict() for n, s in self.per_class.items()}
        else:
            total["foreground"] = foreground(self.scores)
        return {**total, "images": len(self.per_image), "per_image": self.rows(),
                "unpaired": self.unpaired}

    def table(self) -> str:
        rows = self.rows()
        if self.mode == "object":
            s = self.scores
            area = f", min area {self.min_area:g} {self.area_unit}" if self.min_area else ""
            lines = [
                f"Objects (SpaceNet metric, IoU > {s.iou_threshold:g}{area}): "
                f"{counted(len(rows), 'image')}, {sum(r['predictions'] for r in rows.values())} "
                f"predicted, {sum(r['truths'] for r in rows.values())} true",
                f"  TP {s.tp}  FP {s.fp}  FN {s.fn}",
                f"  precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}  "
                f"mean IoU of matches {s.mean_iou:.4f}"]
            if self.per_class:
                lines.append("  per class (all images):")
                lines += image_table({n: c.as_dict() for n, c in self.per_class.items()})
                lines[-len(self.per_class) - 1] = lines[-len(self.per_class) - 1].replace(
                    "image", "class", 1)
            lines += image_table(rows)
        else:
            f = foreground(self.scores)
            lines = [f"Pixels over {counted(len(rows), 'image')}, "
                     "classes other than background pooled: "
                     f"TP {f['tp']}  FP {f['fp']}  FN {f['fn']}",
                     f"  precision {shown(f['precision'])}  recall {shown(f['recall'])}  "
                     f"F1 {shown(f['f1'])}  IoU {shown(f['iou'])}",
                     *image_table(rows, iou=True), "Total:", self.scores.table()]
        if self.unpaired.get("prediction") or self.unpaired.get("truth"):
            lines.append(f"  left out (no partner): "
                         f"{counted(len(self.unpaired['prediction']), 'prediction')}, "
                         f"{counted(len(self.unpaired['truth']), 'truth')}")
        return "\n".join(lines)


def _folder_meaning_of_255(counts) -> tuple[bool, bool]:
    """:func:`meaning_of_255` of the uint8 truths and of the uint8 class predictions of a
    folder, each side from its images' pooled counts (of the rasters naming no classes)."""
    truth = prediction = np.zeros((2, 2), np.int64)
    edge = [0, 0]
    for c in counts:
        if c.truth_uint8 and c.may_be_0_255[0]:
            truth = add_confusion(truth, c.confusion)
            edge[0] += c.edge_strays[0]
        if c.prediction_uint8 and c.may_be_0_255[1]:
            prediction = add_confusion(prediction, c.confusion)
            edge[1] += c.edge_strays[1]
    return (meaning_of_255(truth, True, False, tuple(edge))[0],
            meaning_of_255(prediction, False, True, tuple(edge))[1])


def _shown(path) -> str:
    """A file of a folder as warnings name it: folder/name."""
    path = Path(str(path))
    return f"{path.parent.name}/{path.name}"


def _warn_folder_zero_nodata(pairs: FilePairs, counts: dict) -> None:
    """One warning per side for the pixels its nodata 0 left out over a folder's tiles."""
    pixels = sum(c.pixels for c in counts.values())
    for side in (0, 1):
        hit = [name for name, c in counts.items() if c.zero_nodata[side]]
        if not hit:
            continue
        first = Path(str(pairs.pairs[hit[0]][side]))
        shown, folder = _shown(first), first.parent.name
        other = Path(str(pairs.pairs[hit[0]][1 - side])).parent.name
        lost = sum(counts[name].zero_nodata[side] for name in hit)
        what = f"{shown} and {len(hit) - 1} other tiles of {folder}: their" if len(hit) > 1 \
            else f"{shown}: its"
        log.warning("%s nodata value 0 is class 0 (background) of the tiles of %s: %d pixels "
                    "(%.0f%% of the folder's) where those hold class 0 are left out of the "
                    "scores. If 0 is background in %s too, unset the nodata of the tiles of %s "
                    "(gdal_edit.py -unsetnodata on each, e.g. %s).", what, other, lost,
                    100 * lost / pixels, other, folder, shown)


def _folder_zeros(pairs: FilePairs) -> tuple[bool, bool]:
    """Whether the predictions', the truths' folder reads the declared nodata 0 of each of
    its unnamed class rasters as no data (:func:`~geotile.raster_kinds.run_zero_nodata`)."""
    from geotile.raster import open_raster
    from geotile.raster_kinds import raster_kind, run_zero_nodata, zero_nodata

    runs = []
    for side in (0, 1):
        meanings = []
        for files in pairs.pairs.values():
            with open_raster(files[side]) as src:
                if src.nodata == 0 and raster_kind(src, truth=side == 1).kind == "class":
                    meanings.append(zero_nodata(src))
        runs.append(run_zero_nodata(meanings))
    return runs[0], runs[1]


def _warn_folder_nodata_255(pairs: FilePairs, counts: dict) -> None:
    """One warning for the pixels the truths' nodata 255 left out over a folder's tiles
    (:func:`warn_nodata_255`)."""
    hit = [name for name, c in counts.items() if c.lost_255]
    if hit and (lost := lost_to_255(counts.values())):
        first = Path(str(pairs.pairs[hit[0]][1]))
        shown = _shown(first)
        what = f"{shown} and {len(hit) - 1} other truths" if len(hit) > 1 else shown
        warn_nodata_255(what, Path(str(pairs.pairs[hit[0]][0])).parent.name, lost,
                         sum(c.pixels for c in counts.values()), f"on each, e.g. {shown}")


def _named_as_folder_truth(per_image: dict) -> dict:
    """Each image's predicted class names paired with the folder's truth names (a tile whose
    truth lacks 'Buildings' pairs its 'building' too): one class in every tile, the totals
    and errors files alike (:func:`~geotile.object_scores.named_as_truth` pairs per tile)."""
    from dataclasses import replace

    from geotile.object_scores import named_as_truth

    truth = np.array(sorted({n for e in per_image.values() if e.classes
                             for n in e.classes[2]}), dtype=object)
    renamed = {}
    for image, evaluation in per_image.items():
        if not evaluation.classes:
            renamed[image] = evaluation
            continue
        field_name, pred_class, true_class = evaluation.classes
        named = named_as_truth(pred_class, truth) if len(pred_class) else pred_class
        moves = {old: new for old, new in zip(pred_class, named, strict=True) if old != new}
        if not moves or any(new in evaluation.per_class for new in moves.values()):
            renamed[image] = evaluation
            continue
        per_class = {moves.get(k, k): v for k, v in evaluation.per_class.items()}
        renamed[image] = replace(evaluation, per_class=dict(sorted(per_class.items())),
                                 classes=(field_name, named, true_class))
    return renamed


def evaluate_folders(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     iou: float = 0.5, threshold: float | None = None,
                     class_field: str | None = None, conf_field: str | None = None,
                     labels_crs: str | None = None, prediction_crs: str | None = None,
                     repair_truth: bool = False, labels_layer: str | None = None,
                     min_area: float = 0.0, progress: bool = False,
                     pairs: FilePairs | None = None,
                     class_map: dict[str, int] | None = None) -> ManyEvaluation:
    """Score each file of the ``prediction`` folder against the file of the ``truth`` folder
    of the same name (``pair_folders``): object scores for vector files, pixel scores for
    rasters; per image and in total. 255 of uint8 masks means the same in every image:
    class 1 where the folder's masks are 0/255 ones (:func:`meaning_of_255`), else ignore
    (truth). ``class_map`` names the truth rasters' ids (:func:`evaluate_rasters`)."""
    from geotile.progress import progress_bar

    pairs = pairs or pair_folders(prediction, truth)
    if pairs.kind == "vector" and class_map:
        raise UsageError(f"{truth} holds vector files: --class-map names the ids of truth "
                         "rasters; score classes of vector files with --class-field.")
    if pairs.kind == "raster" and min_area > 0:
        raise UsageError(f"{truth} holds rasters: --min-area leaves out small polygons; it "
                         "applies to vector files and SpaceNet CSVs.")
    if pairs.kind == "raster" and labels_layer is not None:
        raise UsageError(f"{truth} holds rasters: --layer names a layer of vector truth.")
    per_image: dict = {}
    zeros = _folder_zeros(pairs) if pairs.kind == "raster" else (False, False)
    for name, (pred, true) in progress_bar(pairs.pairs.items(), progress, unit="image",
                                           desc="evaluate"):
        if pairs.kind == "vector":
            per_image[name] = evaluate_vectors(
                pred, true, iou=iou, class_field=class_field, conf_field=conf_field,
                labels_crs=labels_crs, prediction_crs=prediction_crs,
                repair_truth=repair_truth, labels_layer=labels_layer, min_area=min_area)
        else:
            per_image[name] = raster_counts(pred, true, threshold=threshold, warn=False,
                                             zeros_nodata=zeros, class_map=class_map)
    if pairs.kind == "vector" and class_field:
        per_image = _named_as_folder_truth(per_image)
    if pairs.kind == "raster":  # 255 means one thing in a whole dataset, empty tiles too
        _warn_folder_zero_nodata(pairs, per_image)
        from geotile.raster_kinds import warn_zero_nodata

        said = [(_shown(pairs.pairs[name][side]), c.zeros[side])
                for side in (0, 1) for name, c in per_image.items()]
        warn_zero_nodata([n for n, _ in said], [z for _, z in said])
        _warn_folder_nodata_255(pairs, per_image)
        by_id = {name: c for name, c in per_image.items() if c.by_id}
        if by_id:
            first = next(iter(by_id))
            where = (f"{pairs.pairs[first][1]}" if len(by_id) == 1 else
                     f"{pairs.pairs[first][1]} and {len(by_id) - 1} other truths")
            warn_paired_by_id(where, prediction, truth, by_id.values())
        said_no_data = {n: c.predicted_no_data for n, c in per_image.items()
                        if c.predicted_no_data}
        if said_no_data:  # one warning for the folder: the first pair named, the others counted
            first = next(iter(said_no_data))
            warn_predicted_no_data(pairs.pairs[first][0], pairs.pairs[first][1],
                                    list(said_no_data.values()), len(said_no_data) - 1)
        said: dict[str, list[str]] = {}
        for name, c in per_image.items():
            if c.unmatched:
                said.setdefault(c.unmatched, []).append(name)
        for text, names in said.items():  # once per set of names, not per image
            more = f" and {counted(len(names) - 1, 'other image')}" if len(names) > 1 else ""
            log.warning("%s (against %s)%s: %s", *pairs.pairs[names[0]], more, text)
        meaning = _folder_meaning_of_255(per_image.values())
        per_image = {name: c.scores(meaning) for name, c in per_image.items()}
    files = {name: (str(p), str(t)) for name, (p, t) in pairs.pairs.items()}
    unpaired = {"prediction": [str(p) for p in pairs.unpaired_prediction],
                "truth": [str(t) for t in pairs.unpaired_truth]}
    return ManyEvaluation(per_image, files, "object" if pairs.kind == "vector" else "pixel",
                          iou, min_area, unpaired)
