"""Truth drawn in each image's pixels (a COCO instances file, a YOLO-seg labels folder, a
Labelme file or folder, a CVAT XML, a Label Studio or Labelbox export, a VIA file, DOTA's
labelTxt: what make-masks reads as labels) for ``evaluate``.

Each prediction is scored against its own image's instances, placed on the grid of the
prediction raster (or of --image, for a vector prediction) as make-masks places them on
the image: that raster is of the image's size and takes the image's name, its stem or its
stem with a prediction suffix (``<stem>.tif`` as predict names them, ``<stem>_pred.tif``)
naming the COCO entry (the CVAT, Label Studio, Labelbox or VIA one:
:mod:`geotile.annotation_truth`), the .txt or the Labelme file. Pixel scores burn the instances as
make-masks burns them (crowd and ``__ignore__`` regions ignored) and score that mask as two
rasters are scored; object scores keep each instance a polygon, so that touching buildings
stay apart. A prediction that matches no instance and lies mostly (more than half its
area) in crowd or ``__ignore__`` regions is neither a TP nor an FP, as COCO's evaluation
ignores detections matched to crowd regions.

Each image's truth is read by :mod:`geotile.image_truth`; formats read into a
:class:`geotile.labelme_labels.Labelme` take its :func:`~geotile.image_truth.labelme_truth`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from geotile.errors import InputError, UsageError
from geotile.image_truth import (
    ImageTruth,
    burn,
    coco_truth,
    image_stem,
    labelme_truth,
    scratch_folder,
    stand_in,
    yolo_truth,
)
from geotile.name_keys import name_key

log = logging.getLogger(__name__)


def is_pixel_truth(truth, layer: str | None = None) -> bool:
    """Whether TRUTH is labels in each image's pixels: COCO, YOLO, Labelme, CVAT, Label
    Studio, Labelbox, Supervisely, VIA or DOTA."""
    from geotile.annotation_truth import is_annotation_file
    from geotile.coco_labels import is_coco_file
    from geotile.labelme_labels import is_labelme_labels
    from geotile.yolo_labels import is_yolo_labels

    return (is_coco_file(truth) or is_yolo_labels(truth)
            or is_labelme_labels(truth, layer) or is_annotation_file(truth))


def read_pixel_truth(truth, grids: list, class_field: str | None = None,
                     unnamed: list[str] = ()) -> list[ImageTruth]:
    """Each raster of ``grids``' instances of TRUTH, every one found, of its size and placed
    before anything is scored (make-masks' checks, one line each); ``class_field``: a VIA
    file's region attribute naming the class; ``unnamed``: the names of those of ``grids``
    scored by id (they name no classes)."""
    return _read(truth, grids, class_field, unnamed)[0]


def _read(truth, grids: list, class_field: str | None = None, unnamed: list[str] = ()
          ) -> tuple[list[ImageTruth], list[str] | None]:
    """:func:`read_pixel_truth`, and the images TRUTH lists (``entry`` names: COCO file
    names, label files, CVAT's, Label Studio's or VIA's names; None for one Labelme file).
    A Labelme folder's classes scored by id (``unnamed``: the rasters naming none) are
    numbered over every file of it, as make-masks numbers them over the whole folder."""
    from geotile.annotation_truth import annotation_truth, is_annotation_file
    from geotile.coco_labels import read_coco
    from geotile.labelme_labels import is_labelme_labels, read_labelme
    from geotile.yolo_labels import is_yolo_labels, label_files

    if is_annotation_file(truth):  # before COCO: Label Studio's tasks hold "annotations"
        return annotation_truth(truth, grids, class_field)
    coco = read_coco(truth)
    if coco is not None:
        return coco_truth(coco, grids), [e["file_name"] for found in coco.by_name.values()
                                         for e in found]
    if is_yolo_labels(truth):
        return yolo_truth(truth, grids), [str(f) for f in label_files(truth) or []]
    if is_labelme_labels(truth):
        from geotile.label_folders import label_files as labelme_files

        known = _label_stems(truth)
        labelme = read_labelme(truth, [stand_in(g, known) for g in grids])
        if unnamed:
            labelme = _whole_folder(labelme, unnamed)
        truths = labelme_truth(labelme, grids)
        return truths, None if known is None else [str(f) for f in labelme_files(truth)]
    raise InputError(f"{truth}: no COCO, YOLO, Labelme, CVAT, Label Studio, Labelbox, "
                     "Supervisely, Datumaro, V7 Darwin, VIA or DOTA labels. Give labels in "
                     "each image's pixels, or vector labels.")


def _whole_folder(labelme, unnamed: list[str]):
    """``labelme`` numbered over the names of every file of its folder (read for it), as
    make-masks numbers them over the whole folder, where the files read for the
    predictions alone hold fewer; said, naming the ``unnamed`` ones scored by id, since
    make-masks of those images alone numbers fewer."""
    from dataclasses import replace as replaced

    from geotile.labelme_labels import folder_names

    names = folder_names(labelme)
    if set(names) == set(labelme.names):
        return labelme
    ids = ", ".join(f"{i} {n}" for i, n in enumerate(sorted(names), 1))
    log.warning("%s name%s no classes: %s ids are scored as make-masks numbers the labels of "
                "every file of %s (%s), not those of the %d file%s paired with %s alone. "
                "Give the predictions class names (predict writes its model's), or make "
                "masks with a --class-map.", _names_of(unnamed),
                "s" if len(unnamed) == 1 else "", "its" if len(unnamed) == 1 else "their",
                labelme.labels, ids, len(set(labelme.files)),
                "s" if len(set(labelme.files)) > 1 else "",
                "them" if len(labelme.files) > 1 else "it")
    return replaced(labelme, names=names)


def _names_of(shown: list[str]) -> str:
    return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def _label_stems(labels) -> set[str] | None:
    """The stems of a folder's label files (None for one file: it names no image)."""
    from geotile.label_folders import label_files, label_stem

    if Path(os.fspath(labels)).is_file():
        return None
    return {name_key(label_stem(f)) for f in label_files(labels)}


def truth_polygons(one: ImageTruth, class_field: str | None):
    """(the instances as a GeoDataFrame, their class names in ``class_field`` or "class";
    the regions to ignore), in the grid's CRS; instances of a background name are none."""
    import geopandas as gpd

    from geotile.masks import IGNORE

    ids = np.asarray(one.frame.fields["class_id"])
    kept = (ids != IGNORE) & (ids != 0)
    frame = gpd.GeoDataFrame(
        {class_field or "class": [one.names.get(int(i), str(i)) for i in ids[kept]]},
        geometry=list(one.frame.geometries[kept]), crs=one.crs)
    return frame, np.asarray(one.frame.geometries[ids == IGNORE], dtype=object)


def evaluate_pixel_truth(prediction, truth, *, image=None, iou: float = 0.5,
                         threshold: float | None = None, class_field: str | None = None,
                         conf_field: str | None = None, prediction_crs: str | None = None,
                         repair_truth: bool = False, min_area: float = 0.0,
                         progress: bool = False):
    """Scores of PREDICTION (a raster, a folder of rasters, or a vector file on ``image``'s
    grid) against TRUTH in each image's pixels: pixel scores of the burnt instances, or
    object scores of the instances."""
    from geotile.evaluate import evaluate_rasters, is_raster
    from geotile.evaluate_inputs import is_folder

    if is_folder(prediction):
        if image is not None:
            raise UsageError(f"{prediction} is a folder of prediction rasters, each on its "
                             "image's grid: leave out --image.")
        return _folder(prediction, truth, threshold, progress, class_field)
    if is_raster(prediction):
        if image is not None:
            raise UsageError(f"{prediction} is a raster on its image's grid: leave out "
                             "--image.")
        unnamed = unnamed_rasters([prediction])
        (one,) = read_pixel_truth(truth, [prediction], class_field, unnamed)
        _warn_unnamed(unnamed, one)
        with scratch_folder(truth) as folder:
            mask = folder / f"{Path(one.image).stem}.tif"
            burn(one, mask)
            return evaluate_rasters(prediction, mask, threshold=threshold, progress=progress)
    if image is None:
        raise UsageError(f"{truth} is drawn in each image's pixels: give --image IMAGE (the "
                         f"image of {Path(os.fspath(prediction)).name}, or its prediction "
                         "raster) to place it.")
    (one,), listed = _read(truth, [image], class_field)
    _check_named(prediction, one, listed)
    from geotile.object_scores import evaluate_vectors

    frame, ignored = truth_polygons(one, class_field)
    in_pixels = one.crs is None
    if in_pixels:
        _check_in_pixels(prediction, prediction_crs, image)
    return evaluate_vectors(prediction, one.source, iou=iou, class_field=class_field,
                            conf_field=conf_field, prediction_crs=prediction_crs,
                            repair_truth=repair_truth, min_area=min_area, truth_frame=frame,
                            ignored=ignored, in_pixels=in_pixels)


def _check_named(prediction, one: ImageTruth, listed: list[str] | None) -> None:
    """InputError when PREDICTION's name is that of another image of the truth than
    --image's (a.geojson with --image b.tif): it would be scored against b's instances."""
    if not listed:
        return
    from geotile.labelstudio_labels import without_upload_prefix

    stems: dict[str, set[str]] = {}  # each listed name's stems: Label Studio's upload's too
    for name in listed:
        stem = Path(name.replace("\\", "/")).stem
        stems[name] = {name_key(stem), name_key(without_upload_prefix(stem))}
    known = set().union(*stems.values())
    stem = name_key(image_stem(prediction, known))
    own = stems[one.entry] if one.entry in stems else {name_key(image_stem(one.image, known))}
    if stem in known and stem not in own:
        named = next(name for name, others in stems.items() if stem in others)
        raise InputError(f"{prediction}: named after {named} of {one.source}, but --image "
                         f"{one.image} is {one.entry or one.image.name}. Give --image the "
                         "prediction's own image (or its prediction raster).")


def _check_in_pixels(prediction, prediction_crs, image) -> None:
    """InputError when a vector prediction declares a map CRS (not GeoJSON's default
    lon/lat, which vectorize's polygons of a plain image carry) while ``image`` has none:
    its coordinates cannot be the image's pixels."""
    from geotile.evaluation_crs import declared_crs

    crs = declared_crs(prediction, None, prediction_crs)
    if crs is not None and not crs.equals("EPSG:4326") and not crs.equals("OGC:CRS84"):
        raise InputError(f"{prediction}: in {crs.to_string()}, but {image} has no CRS: the "
                         "truth lies in its pixels. Give --image the georeferenced image (or "
                         "its prediction raster), or a prediction in the image's pixels.")


def prediction_rasters(folder) -> list[Path]:
    """The rasters of a folder of predictions (not hidden ones), sorted by name."""
    from geotile.input_files import raster_files

    return raster_files(sorted(p for p in Path(folder).iterdir()
                               if p.is_file() and not p.name.startswith(".")))


def _folder(prediction, truth, threshold, progress, class_field=None):
    """Pixel scores of a folder of prediction rasters, each against its image's truth."""
    from geotile.folder_evaluation import evaluate_folders
    from geotile.folder_pairs import FilePairs

    rasters = prediction_rasters(prediction)
    if not rasters:
        raise InputError(f"{prediction}: no prediction rasters. Give a folder of rasters "
                         "(predict's), or one vector file with --image.")
    unnamed = unnamed_rasters(rasters)
    truths, listed = _read(truth, rasters, class_field, unnamed)
    _refuse_shared_images(truths)
    _warn_unnamed(unnamed, truths[0])
    unpaired = _unpaired(listed, truths)
    if unpaired:
        from geotile.folder_pairs import listed_names

        log.warning("left out, no prediction in %s: %d of the images of %s (%s)", prediction,
                    len(unpaired), truth, listed_names(unpaired))
    with scratch_folder(truth) as folder:
        pairs = {}
        for one in truths:
            mask = folder / f"{one.image.stem}.tif"
            burn(one, mask)
            pairs[one.image.stem] = (one.image, mask)
        result = evaluate_folders(prediction, folder, threshold=threshold, progress=progress,
                                  pairs=FilePairs("raster", pairs,
                                                            unpaired_truth=unpaired))
    return replace(result, files={one.image.stem: (str(one.image), str(one.source))
                                  for one in truths})


def _refuse_shared_images(truths: list[ImageTruth]) -> None:
    """InputError naming two predictions of one image (x.tif and x_classes.tif): both
    scored, the image would count twice."""
    seen: dict[str, Path] = {}
    for one in truths:
        if one.entry is None:
            continue
        if one.entry in seen:
            raise InputError(f"{seen[one.entry]} and {one.image} both name {one.entry} of "
                             f"{one.source}: leave one prediction of each image in "
                             f"{one.image.parent}.")
        seen[one.entry] = one.image


def _unpaired(listed: list[str] | None, truths: list[ImageTruth]) -> list[Path]:
    """The images of ``listed`` (the truth's) no prediction of ``truths`` took."""
    taken = {one.entry for one in truths}
    return [Path(name) for name in listed or [] if name not in taken]


def unnamed_rasters(rasters: list) -> list[str]:
    """The names of the prediction ``rasters`` that name no classes (scored by id)."""
    from geotile.raster import open_raster
    from geotile.raster_kinds import raster_kind

    unnamed = []
    for path in rasters:
        with open_raster(path) as src:
            if raster_kind(src).names is None:
                unnamed.append(Path(os.fspath(path)).name)
    return unnamed


def _warn_unnamed(unnamed: list[str], one: ImageTruth) -> None:
    """Warn when prediction rasters name no classes (``unnamed``: theirs) while ``one``'s
    COCO file numbers its classes other than by category id (1, 3, 7): their ids are taken
    as make-masks numbers them."""
    ids = one.category_ids or {}
    if not one.several or all(one.mapping.get(name) == key for name, key in ids.items()):
        return
    if unnamed:
        log.warning("%s name%s no classes: %s ids are taken as make-masks numbers %s's classes "
                    "(%s), not as its category ids %s. Give the predictions class names "
                    "(predict writes its model's), or those ids.", _names_of(unnamed),
                    "s" if len(unnamed) == 1 else "", "its" if len(unnamed) == 1 else "their",
                    one.source, ", ".join(f"{n} {i}" for n, i in one.mapping.items()),
                    ", ".join(str(ids[n]) for n in one.mapping if n in ids))
