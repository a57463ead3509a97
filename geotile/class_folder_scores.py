"""Pixel scores of predictions against a folder of binary masks per class
(:mod:`geotile.class_folders`): each class on its own, as classes may overlap.

A pixel is predicted as class k where: band k of independent probabilities (predict's
sigmoid channels, GEOTILE_BANDS=independent, or bands named by the classes without a
background first) reaches the threshold; band k of a multi-label mask (tile's, 255 left
out) is 1; a class raster's id, or the argmax of a softmax, is k. Classes match by name
where the prediction names them, else by position (folder name order). Pixels the
truth's boundaries/ or masks/ mark 0, and the prediction's nodata, are left out. TP, FP
and FN are summed over all images per class (pooled, as folder scores are).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from geotile.errors import InputError

log = logging.getLogger("geotile")


@dataclass
class MultiLabelScores:
    """Per class (``classes``, in band order): TP, FP, FN pixel counts, rows of
    ``counts``; ``pixels`` scored; per image its own counts."""

    classes: list[str]
    counts: np.ndarray  # (classes, 3): tp, fp, fn
    pixels: int = 0
    per_image: dict[str, np.ndarray] = field(default_factory=dict)

    def rows(self, counts: np.ndarray | None = None) -> list[dict]:
        from geotile.evaluate import pixel_ratios

        counts = self.counts if counts is None else counts
        return [{"class_id": k, "class": name, **pixel_ratios(*map(int, counts[k - 1])),
                 "support": int(counts[k - 1, 0] + counts[k - 1, 2]),
                 "predicted": int(counts[k - 1, 0] + counts[k - 1, 1])}
                for k, name in enumerate(self.classes, start=1)]

    def as_dict(self) -> dict:
        classes = self.rows()
        seen = [c["iou"] for c in classes if c["support"] or c["predicted"]]
        return {"mode": "multi-label", "classes": classes, "pixels": self.pixels,
                "mean_iou": float(np.mean(seen)) if seen else np.nan,
                "per_image": {name: {c["class"]: c["iou"] for c in self.rows(counts)}
                              for name, counts in self.per_image.items()}}

    def table(self) -> str:
        from geotile.score_tables import class_lines, shown

        d = self.as_dict()
        return "\n".join([f"Pixels: {d['pixels']}  mean IoU {shown(d['mean_iou'])}  "
                          f"(multi-label: each class scored on its own, "
                          f"{len(self.per_image)} images pooled)", *class_lines(d["classes"])])


def evaluate_class_folders(prediction, folders, threshold: float | None = None
                           ) -> MultiLabelScores:
    """Score the rasters of the ``prediction`` folder (named after the truth's files)
    against ``folders`` (:class:`~geotile.class_folders.ClassFolders`), class by class."""
    from geotile.class_folders import describe, pair_class_files
    from geotile.folder_pairs import folder_files

    predictions = folder_files(Path(prediction))["raster"]
    if not predictions:
        raise InputError(f"{prediction}: no raster in the folder. Give a folder of "
                         "prediction rasters named after the masks of "
                         f"{folders.root}.")
    log.info("%s", describe(folders))
    if threshold is not None:  # no class raster: a threshold has nothing to cut
        from geotile.raster_kinds import check_threshold_applies

        check_threshold_applies(predictions)
    paired = pair_class_files(predictions, folders)
    _warn_unpredicted(folders, paired)
    scores = MultiLabelScores(list(folders.classes), np.zeros((len(folders.classes), 3),
                                                              np.int64))
    for path, (files, validity) in zip(predictions, paired, strict=True):
        counts = np.zeros_like(scores.counts)
        scores.pixels += _score_one(path, folders.classes, files, validity, threshold,
                                    counts)
        scores.counts += counts
        scores.per_image[path.stem] = counts
    return scores


def _warn_unpredicted(folders, paired) -> None:
    """One warning naming the fields of the class folders without a prediction (left out
    of the scores), as :func:`~geotile.folder_pairs.pair_folders` names unpaired files."""
    from geotile.folder_pairs import folder_files, listed_names

    used = {Path(f).stem for files, _ in paired for f in files if f is not None}
    left = {}
    for name in folders.classes:
        for file in folder_files(folders.root / name)["raster"]:
            if file.stem not in used:
                left.setdefault(file.stem, file)
    if left:
        log.warning("left out, no file of the same name in the other folder: %d in %s (%s)",
                    len(left), folders.root, listed_names(left[s] for s in sorted(left)))


def _score_one(path, classes, files, validity, threshold, counts) -> int:
    """Add the TP, FP, FN of each class of the prediction ``path`` to ``counts``; the
    pixels scored."""
    from geotile.class_folders import class_blocks
    from geotile.raster import open_raster

    scored = 0
    with open_raster(path) as src:
        reading = _reading(src, path, classes, threshold)
        for window, truth in class_blocks(path, files, validity):
            values = src.read(window=window)
            valid = (truth[0] != 255) & (src.dataset_mask(window=window) != 0)
            predicted = reading(values, valid)
            for k in range(len(classes)):
                true, said = truth[k] == 1, predicted[k]
                counts[k] += (np.count_nonzero(true & said & valid),
                              np.count_nonzero(~true & said & valid),
                              np.count_nonzero(true & ~said & valid))
            scored += int(np.count_nonzero(valid))
    return scored


def _reading(src, path, classes, threshold):
    """How to read ``src``'s values as a (classes, rows, cols) boolean array: a function of
    (values, valid)."""
    from geotile.class_keys import class_key, is_background_name
    from geotile.mask_values import multi_label_mask
    from geotile.raster_kinds import class_ids, raster_kind, value_bands, zero_one_kind

    kind = raster_kind(src)
    bands = [b - 1 for b in (value_bands(src) or range(1, src.count + 1))]
    keys = [class_key(c) for c in classes]
    if kind.independent_background and class_key(kind.names[0]) in keys:
        # band 1 named as a class folder (land cover's "other"): that class, no background
        kind = replace(kind, names=["background", *kind.names], background_band=False,
                       independent_background=False)
    names = [class_key(n) if n else "" for n in kind.names or []]
    strays = [n for n in names if n and n not in keys and not is_background_name(n)]
    if strays:
        raise InputError(f"{path}: it names classes ({', '.join(strays)}) that are no class "
                         f"folder ({', '.join(classes)}). Name the prediction's classes as "
                         "the folders, or leave them unnamed (folder name order).")
    if multi_label_mask(src) or (kind.kind == "probability" and not kind.background_band
                                 and len(bands) == len(classes)):
        kind = zero_one_kind(src, kind)
        cut = threshold if threshold is not None else kind.threshold or 0.5
        # names of a background band first: band k is names[k]
        order = [names.index(key) - 1 for key in keys] if set(keys) <= set(names) \
            else list(range(len(classes)))
        log.info("%s: each band one class on its own (p >= %g)", path, cut)

        def per_band(values, valid):
            values = values[bands][order]
            if multi_label_mask(src):
                return values == 1
            return values.astype(np.float32) / np.float32(kind.scale) >= cut
        return per_band
    cut = 0.5 if threshold is None else threshold
    ids = [names.index(key) if key in names else None for key in keys] if any(
        key in names for key in keys) else list(range(1, len(classes) + 1))

    def per_id(values, valid):
        found, _ = class_ids(values[bands], valid, kind, cut, path)
        if not any(key in names for key in keys) and found[valid].max(initial=0) > len(keys):
            raise InputError(f"{path}: holds class id {int(found[valid].max())}, but there are "
                             f"{len(classes)} class folders. Give ids 1..{len(classes)} in "
                             "folder name order (0: none), or name the classes.")
        return np.stack([found == i if i is not None else np.zeros(found.shape, bool)
                         for i in ids])
    return per_id
