"""Truth in one file of many images' shapes read as Labelme's (a CVAT "for images 1.1" XML, a
Label Studio JSON or JSON_MIN export, a Labelbox export, a VGG Image Annotator JSON, CSV
export or VIA 3 project), in
Supervisely's annotations (a project, dataset or ann/ folder, one ann file), in Datumaro
JSON (a subset's file, its annotations folder, the export's root), in V7's
Darwin JSON (a file, folder or pattern of them) or in DOTA's labelTxt (a DOTA root, its
labelTxt folder, one file; difficult objects are regions to ignore, as DOTA's evaluation
ignores them), for ``evaluate``.

Each prediction raster takes the file's image its name names, as a COCO file's
(:func:`geotile.image_truth.entry_name`), among the base names of the file's images: CVAT's
``name`` less its folders, Label Studio's image URL's file name with and without its upload
prefix (``8a9b7c1d-``), Labelbox's external_id, global_key and row_data URL file name, VIA's
``filename`` (a VIA 3 file's ``fname``), Supervisely's ann files' names less ``.json``,
Darwin's item names (and source files' names), DOTA's label files' names, Datumaro's
items' image file names (their ids' last parts where they have none).
make-masks' reader of the format then finds that entry and checks it, as against its image,
against a stand-in of the prediction named as the image: a VRT of the prediction's size and
no pixels, in a temporary folder (its messages name the prediction). VIA's --class-field
(the region attribute naming the class) passes through.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from geotile.errors import GeotileWarning, InputError
from geotile.quiet_warnings import hidden

#: VIA's warning of an image of other bytes than the file annotated: a prediction's are
_OTHER_BYTES = r".* bytes, but .* annotated a file of -?\d+ bytes"


@dataclass(frozen=True)
class _Format:
    """How to tell, list and read one format."""

    is_file: Callable
    #: (the names of its images, as listed; the base names a prediction may be named after)
    names: Callable
    #: read(labels, images, class_field) -> Labelme
    read: Callable
    #: who shows an image its EXIF orientation turns as turned, and draws on it so
    shows: str


def _cvat_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.cvat_labels import base_name, parse_cvat

    listed = [entry.name for entry in parse_cvat(path, set())[1]]
    return listed, {base_name(name) for name in listed}


def _labelstudio_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.labelstudio_labels import (
        labelstudio_tasks,
        read_labelstudio_json,
        without_upload_prefix,
    )

    document = read_labelstudio_json(path)
    tasks = labelstudio_tasks(path, document if isinstance(document, list) else [document])
    names = {task["name"] for task in tasks}
    return [task["image"] for task in tasks], names | {
        without_upload_prefix(name) for name in names}


def _via_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.via_labels import entries_by_name, entries_of

    by_name = entries_by_name(path, entries_of(path))
    return [entry["filename"] for found in by_name.values() for _, entry in found], set(by_name)


def _labelbox_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.labelbox_labels import row_names

    return row_names(path)


def _supervisely_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.supervisely_labels import image_name, supervisely_layout

    names = [image_name(f) for f in supervisely_layout(path)[0]]
    return names, set(names)


def _darwin_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.darwin_labels import listed

    files = listed(path)
    return [found[0] for _, found in files if found], {n for _, found in files for n in found}


def _datumaro_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.datumaro_labels import names

    return names(path)


def _dota_names(path: Path) -> tuple[list[str], set[str]]:
    from geotile.dota_files import label_files

    files = label_files(path) or []
    return [str(f) for f in files], {f.name for f in files}


def _read_cvat(labels, images, class_field):
    from geotile.cvat_labels import read_cvat

    return read_cvat(labels, images)


def _read_labelstudio(labels, images, class_field):
    from geotile.labelstudio_labels import read_labelstudio

    return read_labelstudio(labels, images)


def _read_via(labels, images, class_field):
    from geotile.via_labels import read_via

    with hidden(GeotileWarning, message=_OTHER_BYTES):
        return read_via(labels, images, class_field)


def _read_labelbox(labels, images, class_field):
    from geotile.labelbox_labels import read_labelbox

    return read_labelbox(labels, images)


def _read_supervisely(labels, images, class_field):
    from geotile.supervisely_labels import read_supervisely

    return read_supervisely(labels, images)


def _read_darwin(labels, images, class_field):
    from geotile.darwin_labels import read_darwin

    return read_darwin(labels, images)


def _read_datumaro(labels, images, class_field):
    from geotile.datumaro_labels import read_datumaro

    return read_datumaro(labels, images)


def _read_dota(labels, images, class_field):
    from geotile.dota_labels import read_dota

    return read_dota(labels, images, ignore_difficult=True)


def _formats() -> list[_Format]:
    """The formats, in the order make-masks tells them apart."""
    from geotile.darwin_labels import is_darwin_labels
    from geotile.datumaro_labels import is_datumaro_labels
    from geotile.dota_files import is_dota_labels
    from geotile.label_documents import is_cvat_file, is_labelbox_file
    from geotile.labelstudio_labels import is_labelstudio_file
    from geotile.supervisely_labels import is_supervisely_labels
    from geotile.via_labels import is_via_file

    return [_Format(is_dota_labels, _dota_names, _read_dota, "annotation tools show"),
            _Format(is_cvat_file, _cvat_names, _read_cvat, "CVAT shows"),
            _Format(is_labelstudio_file, _labelstudio_names, _read_labelstudio,
                    "Label Studio shows"),
            _Format(is_labelbox_file, _labelbox_names, _read_labelbox, "Labelbox shows"),
            _Format(is_supervisely_labels, _supervisely_names, _read_supervisely,
                    "Supervisely shows"),
            _Format(is_datumaro_labels, _datumaro_names, _read_datumaro,
                    "annotation tools show"),
            _Format(is_darwin_labels, _darwin_names, _read_darwin, "V7 shows"),
            _Format(is_via_file, _via_names, _read_via, "VIA shows")]


def _format(truth) -> _Format | None:
    return next((f for f in _formats() if f.is_file(truth)), None)


def is_annotation_file(truth) -> bool:
    """Whether TRUTH is a CVAT XML, a Label Studio export, a Labelbox export, Supervisely's
    annotations, Datumaro JSON, V7's Darwin JSON, a VIA file or DOTA's labelTxt."""
    return _format(truth) is not None


def takes_class_field(truth) -> bool:
    """Whether TRUTH's classes are named by --class-field (a VIA file's region attribute)."""
    from geotile.via_labels import is_via_file

    return is_via_file(truth)


def annotation_truth(truth, grids: list, class_field: str | None = None):
    """(each of ``grids``' instances of TRUTH, its image's entry found by name, of its size;
    the names of the images TRUTH lists) before anything is scored."""
    from geotile.image_truth import entry_name, labelme_truth, name_stems, scratch_folder
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling

    found = _format(truth)
    path = Path(os.fspath(truth))
    listed, names = found.names(path)
    by_stem = name_stems(names)
    chosen = [_as_listed(grid, entry_name(grid, path, names, by_stem)
                         or input_path(grid).name, listed) for grid in grids]
    for grid, name in zip(grids, chosen, strict=True):  # its stand-in spells it as listed
        refuse_other_spelling(grid, name, truth)
    with scratch_folder(truth) as folder:
        stand_ins = [_stand_in(folder / str(i), grid, name)
                     for i, (grid, name) in enumerate(zip(grids, chosen, strict=True))]
        try:
            labelme = found.read(truth, stand_ins, class_field)
        except InputError as exc:
            text = str(exc)
            for stand_in, grid in zip(stand_ins, grids, strict=True):
                text = text.replace(str(stand_in), str(grid))
            raise InputError(text) from None
    truths = labelme_truth(labelme, grids, found.shows)
    return [replace(one, entry=shapes.image_path)
            for one, shapes in zip(truths, labelme.shapes, strict=True)], listed


def _as_listed(grid, name: str, listed: list[str]) -> str:
    """``name`` (a name TRUTH lists, perhaps as :func:`name_key` gives it) as TRUTH spells
    it: the listed spelling the prediction ``grid`` names (TILE_1.TIF for TILE_1.tif beside
    tile_1.TIF), else its one spelling; ``name`` where none or several are listed."""
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, raw_name
    from geotile.prediction_names import spelled_names

    found = sorted({n for n in map(raw_name, listed) if name_key(n) == name_key(name)})
    found = spelled_names(input_path(grid).stem, found) if len(found) > 1 else found
    return found[0] if len(found) == 1 else name


def _stand_in(folder: Path, grid, name: str) -> Path:
    """A raster of ``grid``'s size (a VRT, no pixels) at ``folder``/``name``."""
    from geotile.input_paths import input_path
    from geotile.raster import open_raster

    if name in ("", ".", ".."):
        name = input_path(grid).name
    with open_raster(input_path(grid)) as src:
        width, height = src.width, src.height
    folder.mkdir()
    path = folder / name
    path.write_text(f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
                    '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>')
    return path
