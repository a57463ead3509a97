"""The xView2 challenge's score of folders of its PNGs, as its scorer (DIUx-xView's
xview2_metrics.py) gives it.

TRUTH holds ``<split>_localization_<id>_target.png`` and
``<split>_damage_<id>_target.png`` (0 no building, 1..4 no/minor/major damage, destroyed),
PREDICTION the same names ending ``_prediction.png``; or xBD's targets
(:func:`xview2_targets`). Localization: pixels of a building (> 0) on each side. Damage:
on the true buildings' pixels only, the predicted damage where a building is predicted
(else 0), each class's TP, FN, FP (in every image: the scorer's fix of October 2019, whose
first version left a class out of images whose truth lacks it). Counts are summed over the
images; F1 is 0 where TP is 0; the damage F1 is the harmonic mean of the 4 classes' (each
plus 1e-6), and the score 0.3 localization F1 + 0.7 damage F1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.errors import InputError
from geotile.xbd import DAMAGE_IDS

DAMAGE = [name for name, i in DAMAGE_IDS.items() if 1 <= i <= 4]
_TARGET = re.compile(r"^(?P<split>[^_]+)_localization_(?P<id>[^_]+)_target\.png$")
_XBD_TARGET = re.compile(r"^(?P<stem>.+)_pre_disaster_target\.png$")


def xview2_targets(truth: str | Path, other: str | Path | None = None,
                   ) -> list[tuple[str, str, str, str]] | None:
    """Each image's (localization target, damage target, localization prediction, damage
    prediction) file names, in name order, for the folder ``truth``: the challenge's
    ``test_localization_00000_target.png`` (predictions ``test_localization_00000_
    prediction.png``), or xBD's ``targets/`` (``<event>_<id>_pre_disaster_target.png``,
    ``_post_disaster_target.png``; predictions ``<event>_<id>_localization_disaster_
    prediction.png`` and ``_damage_disaster_prediction.png``, as the winning solutions
    write them). None where it holds neither, where its pre-disaster targets have no
    post-disaster one (building masks alone), or where the folder ``other`` holds a raster
    or vector file of a name in ``truth`` (its files pair by name, as any folder's)."""
    truth = Path(truth)
    if not truth.is_dir():
        return None
    names = sorted(p.name for p in truth.iterdir())
    post = any(n.endswith("_post_disaster_target.png") for n in names)
    found = [(name, f"{m['split']}_damage_{m['id']}_target.png",
              f"{m['split']}_localization_{m['id']}_prediction.png",
              f"{m['split']}_damage_{m['id']}_prediction.png")
             for name in names if (m := _TARGET.match(name))]
    found += [(name, f"{m['stem']}_post_disaster_target.png",
               f"{m['stem']}_localization_disaster_prediction.png",
               f"{m['stem']}_damage_disaster_prediction.png")
              for name in names if (m := _XBD_TARGET.match(name)) and post]
    return None if other is not None and _pair_by_name(names, other) else found or None


def _pair_by_name(names: list[str], other: str | Path) -> bool:
    """Whether the folder ``other`` holds a raster or vector file of the stem of one of
    ``names`` (in any format: folders pair by stem)."""
    from geotile.label_folders import label_stem
    from geotile.label_rasters import EITHER_SUFFIXES, RASTER_SUFFIXES, VECTOR_SUFFIXES

    data = RASTER_SUFFIXES + VECTOR_SUFFIXES + EITHER_SUFFIXES
    stems = {Path(n).stem for n in names}
    return Path(other).is_dir() and any(
        label_stem(p) in stems and p.suffix.lower() in data for p in Path(other).iterdir())


def refuse_targets_first(prediction: str | Path, truth: str | Path) -> None:
    """InputError where PREDICTION, not TRUTH, holds the xView2 targets (the folders given in
    the other order)."""
    if xview2_targets(prediction, truth) is not None and xview2_targets(truth) is None:
        raise InputError(f"{prediction} holds the xView2 targets (*_target.png): give the "
                         f"predictions first: geotile evaluate {truth} {prediction}")


def _read(path: Path, partner: Path, shape=None) -> np.ndarray:
    """One file's pixels, 0..4 integers of one band, of the ``shape`` of the image's others."""
    from geotile.raster import open_raster

    if not path.is_file():
        raise InputError(f"{path}: no such file, which {partner.name} is scored against; "
                         + (_near_miss(path) or "write the challenge's 4 PNGs of every image "
                            "(localization and damage, prediction and target)."))
    with open_raster(path) as src:
        if src.count != 1:
            raise InputError(f"{path}: {src.count} bands; the challenge's PNGs are one band "
                             "of 0..4 (write the class ids, not colours).")
        a = src.read(1)
    if shape is not None and a.shape != shape:
        raise InputError(f"{path}: {a.shape[1]} x {a.shape[0]} px, not the {shape[1]} x "
                         f"{shape[0]} px of {partner.name}; write it at the target's size.")
    if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 4):
        raise InputError(f"{path}: values reach {a.max()}; the challenge's PNGs hold class "
                         "ids 0..4 (0 no building, 1-4 damage; 5, un-classified, is not "
                         "scored): write those, not 0/255.")
    return a.astype(np.uint8)


def _near_miss(path: Path) -> str:
    """The fix where the folder holds ``path`` by another case or as another format."""
    near = sorted(p for p in path.parent.iterdir() if p.stem.lower() == path.stem.lower())
    if not near:
        return ""
    if near[0].suffix.lower() == ".png":
        return f"{near[0].name} is there: rename it {path.name} (names are case-sensitive)."
    jpeg = " (JPEG's compression changes the class ids)" if near[0].suffix.lower() in (
        ".jpg", ".jpeg") else ""
    return f"{near[0].name} is there: write it as a PNG{jpeg}, {path.name}."


def _counts(pred: np.ndarray, truth: np.ndarray, c: int) -> np.ndarray:
    """TP, FP, FN of class ``c``."""
    p, t = pred == c, truth == c
    return np.array([np.sum(p & t), np.sum(p & ~t), np.sum(~p & t)], dtype=np.int64)


def _f1_row(tp: int, fp: int, fn: int) -> dict:
    """Counts with precision, recall and F1, each 0 where TP is 0 (the challenge's)."""
    precision = tp / (tp + fp) if tp else 0.0
    recall = tp / (tp + fn) if tp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": precision,
            "recall": recall, "f1": f1}


@dataclass
class XView2Scores:
    """Summed localization counts (TP, FP, FN) and damage counts (4 classes x 3)."""

    localization: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    damage: np.ndarray = field(default_factory=lambda: np.zeros((4, 3), np.int64))
    images: int = 0

    def as_dict(self) -> dict:
        loc = _f1_row(*self.localization)
        damage = {name: _f1_row(*row) for name, row in zip(DAMAGE, self.damage, strict=True)}
        damage_f1 = len(damage) / sum((d["f1"] + 1e-6) ** -1 for d in damage.values())
        return {"mode": "xview2", "score": 0.3 * loc["f1"] + 0.7 * damage_f1,
                "localization_f1": loc["f1"], "damage_f1": damage_f1,
                "localization": loc, "damage": damage, "images": self.images}

    def table(self) -> str:
        from geotile.score_tables import shown

        d = self.as_dict()
        lines = [f"xView2 score {shown(d['score'])} = 0.3 localization F1 + 0.7 damage F1 "
                 f"({d['images']} images)",
                 f"{'':<16}{'F1':>8}{'prec.':>8}{'recall':>8}{'TP':>12}{'FP':>12}{'FN':>12}"]
        for name, row in (("localization", d["localization"]), *d["damage"].items()):
            lines.append(f"{name:<16}" + "".join(shown(row[k], 8) for k in (
                "f1", "precision", "recall")) + "".join(f"{row[k]:>12}" for k in (
                    "tp", "fp", "fn")))
        lines.append(f"damage F1 (harmonic mean of the 4 classes) {shown(d['damage_f1'])}")
        return "\n".join(lines)


def evaluate_xview2(prediction: str | Path, truth: str | Path) -> XView2Scores:
    """The challenge's scores of the folder ``prediction`` against the targets in ``truth``
    (:func:`xview2_targets`); a missing or unreadable PNG is refused naming it."""
    prediction, truth = Path(prediction), Path(truth)
    scores = XView2Scores()
    targets = xview2_targets(truth) or []
    for names in targets:
        files = [(prediction / names[2], truth / names[0]),
                 (prediction / names[3], truth / names[1])]
        lt = _read(files[0][1], files[0][1])
        dt = _read(files[1][1], files[0][1], lt.shape)
        lp = _read(files[0][0], files[0][1], lt.shape)
        dp = _read(files[1][0], files[1][1], lt.shape)
        scores.localization += _counts(lp > 0, lt > 0, True)
        on_buildings = dt > 0
        dp, dt = np.where(lp > 0, dp, 0)[on_buildings], dt[on_buildings]
        for i in range(1, 5):
            scores.damage[i - 1] += _counts(dp, dt, i)
        scores.images += 1
    _warn_left_out(prediction, {n for names in targets for n in names[2:]})
    return scores


def _warn_left_out(prediction: Path, scored: set[str]) -> None:
    """One warning naming the PNGs of ``prediction`` no target scores (as the challenge's
    scorer, they are left out), as :func:`~geotile.folder_pairs.pair_folders` names
    unpaired files."""
    import logging

    from geotile.folder_pairs import listed_names

    left = sorted(p for p in prediction.iterdir()
                  if p.suffix.lower() == ".png" and p.name not in scored)
    if left:
        logging.getLogger("geotile").warning(
            "left out, no target of the same image: %d in %s (%s)", len(left), prediction,
            listed_names(left))
