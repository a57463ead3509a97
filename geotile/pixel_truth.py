"""Truth drawn in each image's pixels (a COCO instances file, a YOLO-seg labels folder, a
Labelme file or folder, a CVAT XML, a Label Studio export, a VIA file: what make-masks reads
as labels) for ``evaluate``.

Each prediction is scored against its own image's instances, placed on the grid of the
prediction raster (or of --image, for a vector prediction) as make-masks places them on
the image: that raster is of the image's size and takes the image's name, its stem or its
stem with a prediction suffix (``<stem>.tif`` as predict names them, ``<stem>_pred.tif``)
naming the COCO entry (the CVAT, Label Studio or VIA one: :mod:`geotile.annotation_truth`),
the .txt or the Labelme file. Pixel scores burn the instances as
make-masks burns them (crowd and ``__ignore__`` regions ignored) and score that mask as two
rasters are scored; object scores keep each instance a polygon, so that touching buildings
stay apart. A prediction that matches no instance and lies mostly (more than half its
area) in crowd or ``__ignore__`` regions is neither a TP nor an FP, as COCO's evaluation
ignores detections matched to crowd regions.

Formats read into a :class:`geotile.labelme_labels.Labelme` take :func:`labelme_truth`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geotile.dataset_names import name_key
from geotile.errors import InputError, UsageError

log = logging.getLogger(__name__)

#: what may follow an image's stem in its prediction's name
PREDICTION_SUFFIXES = ("_pred", "-pred", "_prediction", "_predictions", "_probabilities",
                       "_probs", "_classes", "_class", "_buildings")


@dataclass
class ImageTruth:
    """One image's instances on the grid of ``image`` (a prediction raster, or --image)."""

    image: Path
    #: the label file they come from (named in messages and per-image rows)
    source: Path
    crs: object
    labels: object  # geotile.label_set.Labels, as read
    frame: object  # prepared: field class_id, ``IGNORE`` for regions to ignore
    names: dict[int, str]
    category: str  # the field of the class names
    mapping: dict[str, int] | None
    several: bool
    #: the truth's name of the image: its COCO file_name or its label file (None: a YOLO
    #: negative image, or one file of several images' shapes)
    entry: str | None = None
    #: COCO's category id of each class name (None: other truth)
    category_ids: dict[str, object] | None = None


def is_pixel_truth(truth, layer: str | None = None) -> bool:
    """Whether TRUTH is labels in each image's pixels: COCO, YOLO, Labelme, CVAT, Label
    Studio, Supervisely or VIA."""
    from geotile.annotation_truth import is_annotation_file
    from geotile.coco_labels import is_coco_file
    from geotile.labelme_labels import is_labelme_labels
    from geotile.yolo_labels import is_yolo_labels

    return (is_coco_file(truth) or is_yolo_labels(truth)
            or is_labelme_labels(truth, layer) or is_annotation_file(truth))


def image_stem(path, known: set[str] | None) -> str:
    """The stem of the image ``path`` stands for: its own, or without a prediction suffix
    when only that one is ``known`` (None: any is)."""
    from geotile.input_paths import input_path

    stem = name_key(input_path(path).stem)
    if known is None or stem in known:
        return stem
    for suffix in PREDICTION_SUFFIXES:
        if stem.lower().endswith(suffix) and stem[: -len(suffix)] in known:
            return stem[: -len(suffix)]
    return stem


def _stand_in(path, known: set[str] | None) -> Path:
    """``path`` named as its image (:func:`image_stem`), for pairing by name."""
    from geotile.input_paths import input_path

    path = input_path(path)
    return path.with_name(image_stem(path, known) + path.suffix)


def read_pixel_truth(truth, grids: list, class_field: str | None = None) -> list[ImageTruth]:
    """Each raster of ``grids``' instances of TRUTH, every one found, of its size and placed
    before anything is scored (make-masks' checks, one line each); ``class_field``: a VIA
    file's region attribute naming the class."""
    return _read(truth, grids, class_field)[0]


def _read(truth, grids: list, class_field: str | None = None
          ) -> tuple[list[ImageTruth], list[str] | None]:
    """:func:`read_pixel_truth`, and the images TRUTH lists (``entry`` names: COCO file
    names, label files, CVAT's, Label Studio's or VIA's names; None for one Labelme file)."""
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
        truths = labelme_truth(read_labelme(truth, [_stand_in(g, known) for g in grids]), grids)
        return truths, None if known is None else [str(f) for f in labelme_files(truth)]
    raise InputError(f"{truth}: no COCO, YOLO, Labelme, CVAT, Label Studio, Supervisely or VIA "
                     "labels. Give labels in each image's pixels, or vector labels.")


def _label_stems(labels) -> set[str] | None:
    """The stems of a folder's label files (None for one file: it names no image)."""
    from geotile.label_folders import label_files, label_stem

    if Path(os.fspath(labels)).is_file():
        return None
    return {name_key(label_stem(f)) for f in label_files(labels)}


def coco_truth(coco, grids: list) -> list[ImageTruth]:
    """The instances of a COCO file on each of ``grids``, its entry found by name."""
    from geotile.coco_labels import CATEGORY, image_entry
    from geotile.input_paths import input_path
    from geotile.masks import _coco_frames
    from geotile.raster import open_raster

    by_stem = name_stems(coco.by_name)
    entries = []
    for grid in grids:
        with open_raster(input_path(grid)) as src:
            size = src.width, src.height
        entries.append(image_entry(coco, grid, *size,
                                   name=entry_name(grid, coco.path, coco.by_name, by_stem)))
    mapping = coco.class_map
    several = len(set(mapping.values())) > 1
    ids = {name: key for key, name in reversed(coco.categories.items()) if name in mapping}
    return [ImageTruth(image, coco.path, crs, labels, frame, names, CATEGORY, mapping, several,
                       entry["file_name"], ids)
            for (image, labels, crs, frame, names), entry in zip(
                _coco_frames(coco, grids, mapping, entries), entries, strict=True)]


def name_stems(names) -> dict[str, list[str]]:
    """The stem of each image name of ``names`` -> those names."""
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(Path(name).stem, []).append(name)
    return by_stem


def entry_name(grid, source, names, by_stem: dict[str, list[str]]) -> str | None:
    """The image name of ``names`` (the base names of ``source``'s images; ``by_stem``:
    :func:`name_stems`) that ``grid`` names: its stem when that is a full name (x.jpg.tif),
    else the one name of its image's stem (None: none); InputError when the stem is of
    several images (x.jpg and x.png), which it cannot tell apart."""
    from geotile.input_paths import input_path

    own = input_path(grid).stem
    if own in names:
        return own
    stem = image_stem(grid, set(by_stem))
    names = sorted(by_stem.get(stem, []))
    if len(names) > 1:
        raise InputError(f"{grid}: {source} lists {', '.join(names[:-1])} and {names[-1]}, "
                         f"all of stem {stem!r}, so its name fits each. Name the prediction "
                         f"after one image's full name ({names[0]}.tif).")
    return names[0] if names else None


def yolo_truth(truth, grids: list) -> list[ImageTruth]:
    """The objects of a YOLO labels folder on each of ``grids``, its .txt found by stem."""
    from geotile.masks import _refuse_shared_names, _yolo_frames
    from geotile.yolo_labels import CATEGORY, check_images, label_files, read_yolo

    known = {f.stem for f in label_files(truth) or []}
    yolo = read_yolo(truth, [_stand_in(g, known) for g in grids])
    check_images(yolo, grids)
    _refuse_shared_names(yolo)
    several = len(set(yolo.class_map.values())) > 1
    return [ImageTruth(image, source, crs, labels, frame, names, CATEGORY, yolo.class_map,
                       several, None if file is None else str(file))
            for (image, source, crs, labels, (frame, names)), file in zip(
                _yolo_frames(yolo, grids, yolo.class_map), yolo.files, strict=True)]


def labelme_truth(labelme, grids: list) -> list[ImageTruth]:
    """The shapes of a :class:`~geotile.labelme_labels.Labelme` (one image's each, in the
    order of ``grids``) on each of ``grids``."""
    from geotile.labelme_labels import CATEGORY, check_images
    from geotile.masks import _labelme_frames

    check_images(labelme, grids)
    shared = len(set(labelme.files)) < len(labelme.files)  # one file of several images
    return [ImageTruth(image, source, crs, labels, frame, names, CATEGORY, None,
                       len([i for i in names if i]) > 1, None if shared else str(source))
            for image, source, crs, labels, (frame, names) in _labelme_frames(
                labelme, grids, None)]


def burn(one: ImageTruth, output: Path) -> None:
    """``one``'s mask at ``output``, as make-masks writes it on its image."""
    from geotile.masks import MaskOptions, _mask_one_image

    key = one.crs.to_wkt() if one.crs else None
    _mask_one_image(one.labels, {key: (one.frame, one.names)}, one.source, one.image,
                    output, MaskOptions(), one.category, one.mapping, True, False, {},
                    multi=one.several, listed=True)


@contextlib.contextmanager
def scratch_folder(truth) -> Iterator[Path]:
    """A temporary folder under TMPDIR for the masks burnt of TRUTH (and stand-ins of its
    images), removed after success and errors. A write there that fails (TMPDIR full or
    read-only, a file-size limit) is one InputError line naming TMPDIR's folder and its fix,
    never the temporary file, which means nothing to the user and is gone."""
    base = tempfile.gettempdir()
    inside = os.path.join(base, "geotile-truth-")
    try:
        with tempfile.TemporaryDirectory(prefix="geotile-truth-") as folder:
            yield Path(folder)
    except (OSError, InputError) as exc:
        if isinstance(exc, OSError):
            named = any(os.fspath(name).startswith(inside)
                        for name in (exc.filename, exc.filename2) if name is not None)
        else:
            named = str(exc).startswith(inside)
        if not named:
            raise
        raise InputError(_scratch_failure(base, truth, exc)) from exc


def _scratch_failure(base: str, truth, exc: BaseException) -> str:
    """The line for ``exc``, a write under TMPDIR (``base``) that failed."""
    from geotile.output_files import file_size_limit

    cause = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    code = getattr(cause, "errno", None)
    limit = file_size_limit()
    if code is None and limit is not None and "file-size limit" in str(exc):
        code = errno.EFBIG
    reason = (cause.strerror if cause is not None and cause.strerror else
              os.strerror(code) if code is not None else "disk full or an I/O error")
    if code == errno.EFBIG and limit is not None:
        advice = f"A file-size limit of {limit} bytes is set: raise it (ulimit -f)."
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        advice = "Fix its permissions or set TMPDIR to a writable folder."
    else:
        advice = "Free space there, or set TMPDIR to a folder with room."
    return (f"{base}: evaluate could not write its temporary masks of "
            f"{Path(os.fspath(truth)).name} in this folder, TMPDIR's ({reason}). {advice}")


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
    from geotile.evaluate_inputs import _is_folder

    if _is_folder(prediction):
        if image is not None:
            raise UsageError(f"{prediction} is a folder of prediction rasters, each on its "
                             "image's grid: leave out --image.")
        return _folder(prediction, truth, threshold, progress, class_field)
    if is_raster(prediction):
        if image is not None:
            raise UsageError(f"{prediction} is a raster on its image's grid: leave out "
                             "--image.")
        (one,) = read_pixel_truth(truth, [prediction], class_field)
        _warn_unnamed([prediction], one)
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
    stem = image_stem(prediction, known)
    own = stems[one.entry] if one.entry in stems else {image_stem(one.image, known)}
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
    truths, listed = _read(truth, rasters, class_field)
    _refuse_shared_images(truths)
    _warn_unnamed(rasters, truths[0])
    unpaired = _unpaired(listed, truths)
    if unpaired:
        from geotile.folder_pairs import _names

        log.warning("left out, no prediction in %s: %d of the images of %s (%s)", prediction,
                    len(unpaired), truth, _names(unpaired))
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


def _warn_unnamed(rasters: list, one: ImageTruth) -> None:
    """Warn when ``rasters`` name no classes while ``one``'s COCO file numbers its classes
    other than by category id (1, 3, 7): their ids are taken as make-masks numbers them."""
    from geotile.raster import open_raster
    from geotile.raster_kinds import raster_kind

    ids = one.category_ids or {}
    if not one.several or all(one.mapping.get(name) == key for name, key in ids.items()):
        return
    unnamed = []
    for path in rasters:
        with open_raster(path) as src:
            if raster_kind(src).names is None:
                unnamed.append(Path(os.fspath(path)).name)
    if unnamed:
        shown = ", ".join(unnamed[:3]) + (f" and {len(unnamed) - 3} more" if len(unnamed) > 3
                                          else "")
        log.warning("%s name%s no classes: %s ids are taken as make-masks numbers %s's classes "
                    "(%s), not as its category ids %s. Give the predictions class names "
                    "(predict writes its model's), or those ids.", shown,
                    "s" if len(unnamed) == 1 else "", "its" if len(unnamed) == 1 else "their",
                    one.source, ", ".join(f"{n} {i}" for n, i in one.mapping.items()),
                    ", ".join(str(ids[n]) for n in one.mapping if n in ids))
