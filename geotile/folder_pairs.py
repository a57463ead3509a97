"""The files of two evaluate folders paired by name (same stem, else SpaceNet image id):
rasters with rasters or vector files with vector files, files without a partner said."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.dataset_names import image_name, mask_bases, mask_name_splits, names_mask_of
from geotile.errors import InputError
from geotile.input_files import VECTOR_SUFFIXES
from geotile.label_rasters import RASTER_SUFFIXES

log = logging.getLogger("geotile")


@dataclass
class FilePairs:
    """Files of two folders paired by name: ``pairs`` {image: (prediction, truth)}."""

    kind: str  # "vector" or "raster"
    pairs: dict[str, tuple[Path, Path]]
    unpaired_prediction: list[Path] = field(default_factory=list)
    unpaired_truth: list[Path] = field(default_factory=list)


def folder_files(folder: Path) -> dict[str, list[Path]]:
    """The rasters and vector files of a folder (not of its subfolders), by extension; a File
    Geodatabase (a .gdb folder) is one vector file
    (:func:`geotile.input_files.is_label_file`)."""
    from geotile.input_files import is_label_file, raster_files

    entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    files = [p for p in entries if p.is_file()]
    return {"raster": raster_files(files, RASTER_SUFFIXES),  # ENVI's .dat + .hdr too
            "vector": [p for p in entries if is_label_file(p)]}  # KMZ, .geojson.gz... too


def _without_images_of_masks(rasters: list[Path], others: list[Path], pairs) -> list[Path]:
    """``rasters`` less those whose name another's names as its mask (DeepGlobe's
    104_sat.jpg beside 104_mask.png: that mask's image), unless each such mask has its
    namesake among ``others`` (the other folder's rasters) and the raster a partner there
    too (``pairs(stem, other_stem)``: farm-ortho.tif and farm.tif in both folders are two
    images; 104_sat.jpg beside predictions named 104_mask.tif is still the image)."""
    from geotile.name_keys import name_key

    by_key = {name_key(p.stem).lower(): p.stem for p in rasters}
    stems = set(by_key)
    paired = {name_key(p.stem).lower() for p in others}

    def kept(path: Path) -> bool:
        masks = _masks_of(path.stem, stems, path)
        if masks and not any(pairs(by_key[m], o.stem) for m in masks for o in others):
            return True  # masks of no partner (a.tif probabilities beside a_seg.tif classes)
        return not masks or (not masks - paired
                             and any(pairs(path.stem, o.stem) for o in others))

    return [p for p in rasters if kept(p)]


def _masks_of(stem: str, stems: set[str], path: Path | None = None) -> set[str]:
    """The names among ``stems`` (lower case: ``104_mask``, ``104``) of masks of the image
    ``stem`` (``104_sat``, FLAIR's ``IMG_000001``; :mod:`geotile.dataset_names`) when its
    name marks it an image, compared in NFC; a name of no image suffix (``a`` beside
    ``a_mask``, a LandCover.ai piece ``<name>_<k>`` beside ``<name>_<k>_m``; the file
    ``path``) only when it is an image, not a class mask of its own."""
    from geotile.dataset_names import MASK_SUFFIXES, mask_bases, suffix_fits
    from geotile.name_keys import name_key

    bases = mask_bases(name_key(stem))
    masks = {(base + suffix).lower() for base in bases for suffix in MASK_SUFFIXES
             if base + suffix != bases[0] and suffix_fits(base, suffix)} & stems
    if len(bases) == 1:  # no image suffix or prefix: its name alone says no image
        return masks if masks and (path is None or _is_image(path)) else set()
    return masks


def _is_image(path: Path) -> bool:
    """Whether the raster ``path`` is an image, not a class mask: 3 bands or more (RGB), or
    a band 1 of more distinct values in a sample than a class mask holds (a grey photo, SAR
    in dB; :data:`~geotile.label_rasters.PHOTO_COLOURS`)."""
    from geotile.label_rasters import PHOTO_COLOURS
    from geotile.raster import open_raster, sample_pixels

    try:
        with open_raster(path) as src:
            return src.count >= 3 or np.unique(sample_pixels(src, [1])).size > PHOTO_COLOURS
    except InputError:  # unreadable: refused where it is scored, as before
        return False


def _by_stem(files: list[Path], folder: Path) -> dict[str, Path]:
    """``files`` by stem in NFC, letter case kept (:func:`~geotile.name_keys.nfc`); an OSM
    extract's tile_a.osm.pbf by tile_a, as make-masks pairs it."""
    from geotile.label_folders import label_stem
    from geotile.name_keys import nfc

    stems: dict[str, Path] = {}
    for path in files:
        key = nfc(label_stem(path))
        if key in stems:
            raise InputError(f"{folder}: {stems[key].name} and {path.name} share the name "
                             f"{key!r}; keep one file per image in the folder.")
        stems[key] = path
    return stems


def listed_names(paths, limit: int = 5) -> str:
    names = [Path(p).name for p in paths]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit
                                       else "")


class _Namers:
    """The stems of one folder by what they name (:func:`image_name`'s rules: the SpaceNet
    image id, equal or one ending in ``_`` and the other, and mask names), so that the stems
    that may name a stem of the other folder are looked up rather than tried one by one.
    ``truths``: whether the stems are the truth folder's (masks of the predictions)."""

    def __init__(self, stems, truths: bool):
        self.truths, self.order = truths, {stem: i for i, stem in enumerate(stems)}
        self.by_id: dict[str, list[str]] = {}  # its image id
        self.by_tail: dict[str, list[str]] = {}  # what its image id ends in after a "_"
        self.by_mask: dict[str, list[str]] = {}  # a truth: the images it is a mask name of
        for stem in stems:
            key, tails = _id_keys(stem)
            self.by_id.setdefault(key, []).append(stem)
            for tail in tails:
                self.by_tail.setdefault(tail, []).append(stem)
            for base in (mask_name_splits(stem) if truths else _mask_keys(stem)):
                self.by_mask.setdefault(base, []).append(stem)

    def naming(self, stem: str, among=None) -> list[str]:
        """The stems (of ``among``, in this folder's order) that may name ``stem`` of the
        other folder: a superset of those :func:`image_name` pairs with it."""
        key, tails = _id_keys(stem)
        found = self.by_id.get(key, []) + self.by_tail.get(key, [])
        for tail in tails:
            found += self.by_id.get(tail, [])
        for base in (_mask_keys(stem) if self.truths else mask_name_splits(stem)):
            found += self.by_mask.get(base, [])
        return sorted({s for s in found if among is None or s in among},
                      key=self.order.__getitem__)


def _id_keys(stem: str) -> tuple[str, list[str]]:
    """``stem``'s SpaceNet image id as :func:`image_name` compares it, and what it ends in
    after each ``_``."""
    from geotile.name_keys import name_key, nfc
    from geotile.spacenet import image_id

    key = name_key(image_id(nfc(stem)))
    return key, [key[i + 1:] for i, letter in enumerate(key) if letter == "_"]


def _mask_keys(image: str) -> set[str]:
    """The names (:func:`~geotile.name_keys.name_key`) a mask of the image ``image`` is a
    mask name of, as :func:`names_mask_of` and :func:`mask_rank` compare them."""
    from geotile.name_keys import name_key, nfc

    return {name_key(base) for stem in (nfc(image), name_key(image))
            for base in mask_bases(stem)}


def _pair_other_case(pairs: dict, preds: dict, trues: dict, rest_pred: list,
                     rest_true: list, truth) -> None:
    """Pair, in place, a prediction with the one truth left whose stem differs from its own
    in letter case only (truth made on Windows/macOS: TILE_1.tif for tile_1.tif), where no
    other prediction left is so named; a warning names both."""
    from geotile.name_keys import name_key, warn_other_case

    def by_key(stems):
        found: dict[str, list[str]] = {}
        for stem in stems:
            found.setdefault(name_key(stem), []).append(stem)
        return found

    left_pred, left_true = by_key(rest_pred), by_key(rest_true)
    for key, (p, *more) in left_pred.items():
        if more or len(left_true.get(key, ())) != 1:
            continue
        t = left_true[key][0]
        warn_other_case(preds[p], t + preds[p].suffix, trues[t].parent)
        pairs[trues[t].stem] = (preds[p], trues[t])
        rest_pred.remove(p)
        rest_true.remove(t)


def _pair_first_masks(pairs: dict, preds: dict, trues: dict, rest_pred: list,
                      rest_true: list) -> None:
    """Pair, in place, a prediction that several truths name as its mask with the one tile
    pairs it with (:func:`~geotile.dataset_names.mask_rank`: Chesapeake's tile_lc before
    tile_buildings), when no other prediction names that truth; the others stay unpaired."""
    from geotile.dataset_names import mask_rank

    masks, images = _Namers(trues, truths=True), _Namers(preds, truths=False)
    left = set(rest_true)
    for p in list(rest_pred):
        ranked = sorted((rank, t) for t in masks.naming(p, left)
                        if (rank := mask_rank(t, p)) is not None)
        if len(ranked) < 2 or ranked[0][0] == ranked[1][0]:
            continue
        best = ranked[0][1]
        name = image_name(p, best)
        if name in pairs or any(names_mask_of(best, q) for q in images.naming(best, rest_pred)
                                if q != p):
            continue  # left to the rules below, which refuse a clash
        pairs[name] = (preds[p], trues[best])
        rest_pred.remove(p)
        rest_true.remove(best)
        left.discard(best)


def _named_as_truths(preds: dict[str, Path], trues: dict[str, Path], prediction: Path,
                     truth: Path) -> dict[str, Path]:
    """``preds`` by stem, each named by no truth but by one less its prediction suffix
    (TILE_1_pred of truth TILE_1.tif or TILE_1_mask.tif, of SpaceNet's
    buildings_AOI_2_Vegas_img1.geojson by image id; :data:`PREDICTION_SUFFIXES`) by that
    shorter stem, so it pairs as that name would; an InputError naming two predictions that
    so come to one truth (TILE_1.tif and TILE_1_pred.tif: one image scored twice)."""
    from geotile.name_keys import name_key, nfc
    from geotile.prediction_names import without_prediction_suffix

    named: dict[str, list[str]] = {}  # a name a truth's stem gives (name_key): truth stems
    for stem in trues:
        for base in mask_name_splits(stem):
            named.setdefault(base, []).append(stem)

    def truth_of(stem: str) -> str | None:
        """The truth ``stem`` names: of several in other letter cases the one it spells."""
        found = next((named[b] for b in mask_bases(name_key(stem)) if b in named), [])
        spelled = [t for t in found if nfc(t)[:len(stem)] == nfc(stem)]
        return (spelled or found or [None])[0]

    masks = _Namers(trues, truths=True)

    def by_id(stem: str) -> list[str]:
        """The truths ``stem`` names by SpaceNet image id (:func:`image_name`)."""
        return [t for t in masks.naming(stem) if image_name(stem, t) is not None]

    kept: dict[str, Path] = {}
    by_truth: dict[tuple, tuple[str, bool]] = {}  # its truth (or key): stem, shortened
    for stem, path in preds.items():
        image = without_prediction_suffix(stem)
        own, target, shortened = truth_of(stem), None, False
        if image is not None and own is None:
            target = truth_of(image)  # else by image id, which several may share
            shortened = target is not None or (bool(by_id(image)) and not by_id(stem))
        stem, own = (image, target) if shortened else (stem, own)
        key = ("truth", own) if own is not None else ("name", name_key(stem))
        first, was = by_truth.get(key, (None, False))
        if first is None and stem not in kept:
            by_truth[key] = (stem, shortened)
        elif shortened or was or stem in kept:  # tile_1 beside TILE_1, neither shortened
            other = kept[first if first is not None else stem].name
            named_truths = listed_names(trues[t] for t in ([own] if own else by_id(stem)))
            raise InputError(f"{prediction}: {other} and {path.name} both name "
                             f"{named_truths} of {truth}; leave one prediction of each "
                             "image in the folder.")
        kept[stem] = path
    return kept


def _names_truth(prediction_stem: str, truth_stem: str) -> bool:
    """Whether a prediction names a truth (:func:`image_name`), by its stem or by it less
    its prediction suffix."""
    from geotile.prediction_names import without_prediction_suffix

    image = without_prediction_suffix(prediction_stem)
    return any(image_name(stem, truth_stem) is not None
               for stem in (prediction_stem, image) if stem is not None)


def pair_folders(prediction: str | os.PathLike, truth: str | os.PathLike) -> FilePairs:
    """Pair the files of two folders by stem (``pred/<stem>.geojson`` with
    ``truth/<stem>.geojson``, rasters with rasters), else by SpaceNet image id. The truth
    folder decides the kind (vector files or rasters). Files without a partner are left out
    with one warning; two folders without any pair are an InputError."""
    from geotile.label_folders import label_stem

    prediction, truth = Path(prediction), Path(truth)
    true_files, pred_files = folder_files(truth), folder_files(prediction)
    true_files["raster"], pred_files["raster"] = (
        _without_images_of_masks(true_files["raster"], pred_files["raster"],
                                 lambda t, p: _names_truth(p, t)),
        _without_images_of_masks(pred_files["raster"], true_files["raster"], _names_truth))
    if true_files["raster"] and true_files["vector"]:
        raise InputError(f"{truth}: holds both rasters and vector files; put the truth of one "
                         "kind in a folder of its own.")
    kind = "vector" if true_files["vector"] else "raster"
    for folder, files in ((truth, true_files), (prediction, pred_files)):
        if not files["raster"] and not files["vector"]:
            raise InputError(f"{folder}: no raster or vector file in the folder "
                             f"({', '.join(VECTOR_SUFFIXES + RASTER_SUFFIXES)}). Check the path.")
    if not pred_files[kind]:
        other = "rasters" if kind == "vector" else "vector files"
        raise InputError(
            f"{prediction} holds {other} but {truth} holds {kind}s: compare like with like "
            "(`geotile vectorize` the rasters for object scores, or `geotile make-masks` the "
            "labels for pixel scores).")
    trues = _by_stem(true_files[kind], truth)
    preds = _named_as_truths(_by_stem(pred_files[kind], prediction), trues, prediction, truth)
    pairs = {label_stem(trues[key]): (preds[key], trues[key]) for key in trues if key in preds}
    rest_pred = [s for s in preds if s not in trues]
    rest_true = [s for s in trues if s not in preds]
    _pair_other_case(pairs, preds, trues, rest_pred, rest_true, truth)
    _pair_first_masks(pairs, preds, trues, rest_pred, rest_true)
    images, masks = _Namers(preds, truths=False), _Namers(trues, truths=True)
    left_pred, left_true = set(rest_pred), set(rest_true)
    for t in list(rest_true):
        found = [(p, name) for p in images.naming(t, left_pred)
                 if (name := image_name(p, t)) is not None]
        if not found:
            continue
        p, name = found[0]
        rivals = [u for u in masks.naming(p, left_true) if image_name(p, u) is not None]
        if len(found) == 1 and not names_mask_of(t, p):
            # matched by image id, not as p's mask: the files already paired by exact name
            # are candidates too (prediction 1 names a_1 and b_1 though a_1 has its own)
            rivals = [u for u in masks.naming(p) if image_name(p, u) is not None]
            if len(rivals) > 1:
                raise InputError(
                    f"{preds[p].name} matches {listed_names(trues[u] for u in rivals)} in {truth} "
                    "by its image id; give it the file name of its truth.")
            found += [(q, n) for q in images.naming(t) if q not in left_pred
                      and not names_mask_of(t, q) and (n := image_name(q, t)) is not None]
        if len(found) > 1 or len(rivals) > 1 or name in pairs:
            clash = [preds[q] for q, _ in found] + [trues[u] for u in rivals]
            raise InputError(f"{listed_names(clash)} name the same image ({name}); pair each "
                             "prediction with its truth by giving both the same file name.")
        pairs[name] = (preds[p], trues[t])
        rest_pred.remove(p)
        rest_true.remove(t)
        left_pred.discard(p)
        left_true.discard(t)
    unpaired_pred = [preds[s] for s in rest_pred]
    unpaired_true = [trues[s] for s in rest_true]
    if not pairs:
        raise InputError(
            f"{prediction} and {truth}: no file of one has the name of a file of the other "
            f"(e.g. {listed_names(preds.values(), 2)} vs {listed_names(trues.values(), 2)}); "
            "name each prediction after its truth file (same stem).")
    if unpaired_pred or unpaired_true:
        parts = [f"{len(files)} in {folder} ({listed_names(files)})" for folder, files in
                 ((prediction, unpaired_pred), (truth, unpaired_true)) if files]
        log.warning("left out, no file of the same name in the other folder: %s",
                    "; ".join(parts))
    return FilePairs(kind, dict(sorted(pairs.items())), unpaired_pred, unpaired_true)
