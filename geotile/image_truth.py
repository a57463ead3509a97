"""Each image's truth drawn in its pixels, on the grid of its prediction, for evaluate
(:mod:`geotile.pixel_truth`): the :class:`ImageTruth` record, the prediction's name taken for
its image's, the formats' instances read through make-masks' own readers (COCO, YOLO, those
read into a :class:`geotile.labelme_labels.Labelme`), their mask burnt as make-masks burns
it, and the temporary folder those masks are written in."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from geotile.errors import InputError
from geotile.name_keys import name_key, nfc
from geotile.prediction_names import spelled_names, without_prediction_suffix


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


def image_stem(path, known: set[str] | None) -> str:
    """The stem of the image ``path`` stands for, in NFC: its own, or without a prediction
    suffix when only that one is ``known`` (stems as :func:`name_key` gives them; None: any
    is)."""
    from geotile.input_paths import input_path

    stem = nfc(input_path(path).stem)  # its case kept, for messages
    key = name_key(stem)
    if known is None or key in known:
        return stem
    image = without_prediction_suffix(stem)
    return image if image is not None and name_key(image) in known else stem


def stand_in(path, known: set[str] | None) -> Path:
    """``path`` named as its image (:func:`image_stem`), for pairing by name."""
    from geotile.input_paths import input_path

    path = input_path(path)
    return path.with_name(image_stem(path, known) + path.suffix)


def coco_truth(coco, grids: list) -> list[ImageTruth]:
    """The instances of a COCO file on each of ``grids``, its entry found by name."""
    from geotile.coco_labels import CATEGORY, checked_entry
    from geotile.masks import coco_frames

    by_stem = name_stems(coco.by_name)
    entries = [checked_entry(coco, grid, entry_name(grid, coco.path, coco.by_name, by_stem))
               for grid in grids]
    mapping = coco.class_map
    several = len(set(mapping.values())) > 1
    ids = {name: key for key, name in reversed(coco.categories.items()) if name in mapping}
    return [ImageTruth(image, coco.path, crs, labels, frame, names, CATEGORY, mapping, several,
                       entry["file_name"], ids)
            for (image, labels, crs, frame, names), entry in zip(
                coco_frames(coco, grids, mapping, entries), entries, strict=True)]


def name_stems(names) -> dict[str, list[str]]:
    """The stem of each image name of ``names`` (as :func:`name_key` gives it) -> those
    names."""
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(name_key(Path(name).stem), []).append(name)
    return by_stem


def entry_name(grid, source, names, by_stem: dict[str, list[str]]) -> str | None:
    """The image name of ``names`` (the base names of ``source``'s images; ``by_stem``:
    :func:`name_stems`) that ``grid`` names: its stem when that is a full name (x.jpg.tif),
    else the one name of its image's stem (None: none); InputError when the stem is of
    several images (x.jpg and x.png), which it cannot tell apart."""
    from geotile.input_paths import input_path

    own = input_path(grid).stem
    if own in names or name_key(own) in names:  # COCO's by name_key: TILE_1.png.tif
        return own
    stem = image_stem(grid, set(by_stem))
    names = sorted(by_stem.get(name_key(stem), []))
    if len(names) > 1:  # TILE_1.png and tile_1.png: the one spelled as the prediction
        names = spelled_names(input_path(grid).stem, names)
    if len(names) > 1:
        raise InputError(f"{grid}: {source} lists {', '.join(names[:-1])} and {names[-1]}, "
                         f"all of stem {stem!r}, so its name fits each. Name the prediction "
                         f"after one image's full name ({names[0]}.tif).")
    return names[0] if names else None


def yolo_truth(truth, grids: list) -> list[ImageTruth]:
    """The objects of a YOLO labels folder on each of ``grids``, its .txt found by stem."""
    from geotile.input_paths import input_path
    from geotile.masks import refuse_shared_names, yolo_frames
    from geotile.name_keys import refuse_other_spelling
    from geotile.yolo_labels import CATEGORY, check_images, label_files, read_yolo

    known = {name_key(f.stem) for f in label_files(truth) or []}
    yolo = read_yolo(truth, [stand_in(g, known) for g in grids])
    for grid, file in zip(grids, yolo.files, strict=True):  # stand_in spells names in NFC
        if file is not None:
            refuse_other_spelling(grid, file.stem + input_path(grid).suffix, file)
    check_images(yolo, grids)
    refuse_shared_names(yolo)
    several = len(set(yolo.class_map.values())) > 1
    return [ImageTruth(image, source, crs, labels, frame, names, CATEGORY, yolo.class_map,
                       several, None if file is None else str(file))
            for (image, source, crs, labels, (frame, names)), file in zip(
                yolo_frames(yolo, grids, yolo.class_map), yolo.files, strict=True)]


def labelme_truth(labelme, grids: list, shows: str = "Labelme shows") -> list[ImageTruth]:
    """The shapes of a :class:`~geotile.labelme_labels.Labelme` (one image's each, in the
    order of ``grids``) on each of ``grids`` (``shows``: who shows an image its EXIF
    orientation turns as turned, the format's tool, in the refusal of one)."""
    from geotile.labelme_labels import CATEGORY, check_images
    from geotile.masks import labelme_frames

    check_images(labelme, grids, shows)
    shared = len(set(labelme.files)) < len(labelme.files)  # one file of several images
    return [ImageTruth(image, source, crs, labels, frame, names, CATEGORY, None,
                       len([i for i in names if i]) > 1, None if shared else str(source))
            for image, source, crs, labels, (frame, names) in labelme_frames(
                labelme, grids, None)]


def burn(one: ImageTruth, output: Path) -> None:
    """``one``'s mask at ``output``, as make-masks writes it on its image."""
    from geotile.masks import MaskOptions, mask_one_image

    key = one.crs.to_wkt() if one.crs else None
    mask_one_image(one.labels, {key: (one.frame, one.names)}, one.source, one.image,
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
