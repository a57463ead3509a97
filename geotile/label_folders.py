"""LABELS as a folder (or a quoted pattern) of vector label files, one per image.

SpaceNet ships ``geojson/buildings/buildings_AOI_2_Vegas_img1.geojson`` for
``RGB-PanSharpen_AOI_2_Vegas_img1.tif``, xBD ``labels/<name>.json`` for
``images/<name>.png``, many in-house datasets ``tile_12.geojson`` for ``tile_12.tif``. Each
image is paired with its label file by the rules evaluate pairs folders by
(:func:`geotile.dataset_names.image_name`); class ids by name are run-wide
(:func:`run_class_values`).
"""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from pathlib import Path

from geotile.errors import InputError
from geotile.input_files import CONTAINER_SUFFIXES, is_label_file
from geotile.parquet_datasets import dataset_files, other_files
from geotile.plurals import counted


def is_label_folder(labels, layer: str | None = None) -> bool:
    """Whether LABELS names many label files: a folder of vector files, or a glob pattern
    matching no file of its own name. A folder GDAL reads as one file (one Shapefile or
    MapInfo file, or the one ``layer`` names; a File Geodatabase) is one file, as before."""
    text = os.fspath(labels)
    path = Path(text)
    if path.is_dir():
        if path.suffix.lower() == ".gdb" or dataset_files(path) or other_files(path):
            return False
        files = _folder_files(path)
        layers = [f.stem for f in files if f.suffix.lower() in (".shp", ".tab")]
        one_file = bool(files) and len(layers) == len(files) and (
            len(files) == 1 or layer in layers) and len(
            {f.suffix.lower() for f in files}) == 1
        return bool(files) and not one_file
    return not path.exists() and glob.has_magic(text)


def _folder_files(folder: Path) -> list[Path]:
    """The label files of ``folder`` (:func:`is_label_file`; xBD's .json included)."""
    return sorted(p for p in folder.iterdir() if is_label_file(p))


def label_files(labels) -> list[Path]:
    """The label files of a folder (not of its subfolders) or a pattern, sorted by name."""
    text = os.fspath(labels)
    if Path(text).is_dir():
        return _folder_files(Path(text))
    files = sorted(Path(p) for p in glob.glob(text, recursive=True)
                   if Path(p).is_file() or (p.lower().endswith(".gdb") and Path(p).is_dir()))
    if not files:
        raise InputError(f"{text}: no label file matches this pattern. Check the path.")
    return files


def _label_rasters(labels) -> list[Path]:
    """The rasters of a folder holding no vector label files (Potsdam's 5_Labels_all/,
    OpenEarthMap's labels/); [] for anything else."""
    from geotile.input_files import raster_files

    folder = Path(os.fspath(labels))
    if not folder.is_dir() or _folder_files(folder):
        return []
    return raster_files(sorted(p for p in folder.iterdir()
                               if p.is_file() and not p.name.startswith(".")))


def pairs_label_rasters(labels, images) -> bool:
    """Whether ``labels`` is a folder of label rasters holding one named after each of
    ``images`` (:func:`pair_labels`), as a pattern of them pairs."""
    if not _label_rasters(labels):
        return False
    try:
        pair_labels(labels, images, rasters=True)
    except InputError:
        return False
    return True


def pair_labels(labels, images, rasters: bool = False,
                strip: tuple[str, ...] = ()) -> list[Path]:
    """Each image's label file of the folder or pattern ``labels``, in the order of
    ``images`` (a file of another image's own name is not this one's: x_buildings.geojson
    is x_buildings.tif's, not x.tif's); InputError naming the image, the folder and the
    name expected for an image with no label file or with two. Label files of no image are
    left alone. ``rasters``: a folder without vector files gives its rasters. ``strip``:
    suffixes (any case) left out of the files' names before pairing (SpaceNet 7's _UDM)."""
    from geotile.dataset_names import catalog_tile, image_name, label_spelling, scene_of_mask
    from geotile.image_stems import image_stem
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, nfc, refuse_other_spelling
    from geotile.spacenet import image_id

    # an image is never its own label (a GeoNRW city's <E>_<N>_rgb.jp2 beside its _seg.tif)
    given = {os.path.realpath(os.fspath(image)) for image in images}
    files = [f for f in (rasters and _label_rasters(labels)) or label_files(labels)
             if os.path.realpath(f) not in given]

    def stem_of(f: Path) -> str:
        return _stripped(label_stem(f), strip)

    candidates = _candidates(files, stem_of)
    stems = {name_key(image_stem(image)): image for image in images}
    found, others = [], []
    for image in images:
        stem = name_key(image_stem(image))
        own = [f for f in candidates(stem) if image_name(stem, stem_of(f)) is not None
               and not _landcover_ai_name(f, stem_of(f), stem)]
        # a file of another image's stem, or of its name as a scene (104_mask.geojson for
        # 104_sat.tif beside 104.tif), is that image's
        found.append([f for f in own if (key := name_key(stem_of(f))) == stem
                      or (key not in stems and scene_of_mask(key, stem) not in stems)])
        others.append({f: stems.get(key) or stems[scene_of_mask(key, stem)] for f in own
                       if f not in found[-1] and (key := name_key(stem_of(f)))})
    if files and not any(found) and all(f.suffix.lower() == ".shp" for f in files):
        raise InputError(f"{labels}: the folder holds {len(files)} layers of polygons or "
                         f"lines ({', '.join(f.stem for f in files)}), none named after an "
                         "image. Choose one with --layer NAME.")  # GDAL's one file of layers
    for i, (image, own, other) in enumerate(zip(images, found, others, strict=True)):
        if len(own) > 1:  # Zürich_1.geojson in NFC and in NFD: the one spelled as the image
            same = [f for f in own
                    if label_spelling(image, stem_of(f)) == input_path(image).name]
            own = found[i] = same if len(same) == 1 else own
        if len(own) != 1:
            raise InputError(_refusal(input_path(image), labels, files, own, other))
        spelled = label_spelling(image, stem_of(own[0]))  # Zürich_1_labels, RGB-..._Zürich_1
        if spelled is not None:
            refuse_other_spelling(image, spelled, own[0])
    # one file for images of other names (x_12.tif and y_12.tif: 12.geojson) is no one's;
    # the images of one scene (_RGB, _IRRG), of one SpaceNet id (PS-RGB_, PS-MS_) or of one
    # SpaceNet 8 tile (pre- and post-event acquisitions) share it
    named: dict[Path, dict[str, list]] = defaultdict(dict)
    for image, (f,) in zip(images, found, strict=True):
        stem = name_key(image_stem(image))
        key = (scene_of_mask(name_key(stem_of(f)), stem)
               or catalog_tile(nfc(image_stem(image))) or image_id(stem))  # Maxar's hex ids
        named[f].setdefault(key, []).append(image)
    for f, by_name in named.items():
        if len(by_name) > 1:
            names = [input_path(i).name for group in by_name.values() for i in group]
            raise InputError(
                f"{f.name} in {labels} pairs with {len(names)} images of other names "
                f"({', '.join(names[:5])}): whose labels it holds is not clear. Name each "
                f"image's label file after it ({image_stem(images[0])}"
                f"{label_suffix(f) or '.geojson'} for {input_path(images[0]).name}).")
    return [own[0] for own in found]


def _landcover_ai_name(path: Path, stem: str, image: str) -> bool:
    """Whether the vector file ``path`` (its stem ``stem``) pairs with the image ``image``
    by LandCover.ai's ``_m`` mask suffix alone (``area_1_m.geojson`` for ``area_1.tif``):
    that dataset's masks are PNG rasters, so a vector file so named is no label of it."""
    from geotile.dataset_names import names_mask_with
    from geotile.name_keys import name_key

    return is_label_file(path) and name_key(stem) != name_key(image) \
        and names_mask_with(stem, image, "_m")


def _stripped(stem: str, suffixes: tuple[str, ...]) -> str:
    """``stem`` less the first of ``suffixes`` (any case) it ends with."""
    for suffix in suffixes:
        if stem.lower().endswith(suffix.lower()) and len(stem) > len(suffix):
            return stem[:len(stem) - len(suffix)]
    return stem


def label_stem(path: Path) -> str:
    """The name a label file pairs by: its name less its suffix, both of a double one
    (x.osm.pbf, x.geojson.gz, x.shp.zip: x)."""
    return path.name[:len(path.name) - len(label_suffix(path))]


def label_suffix(path: Path) -> str:
    """A label file's suffix, both parts of a double one (.osm.pbf, .geojson.gz, .shp.zip)."""
    from geotile.input_files import VECTOR_SUFFIXES

    inner, outer = Path(path.stem).suffix, path.suffix
    if inner.lower() in {".gz": VECTOR_SUFFIXES + CONTAINER_SUFFIXES, ".zip": (".shp",),
                         ".pbf": (".osm",)}.get(outer.lower(), ()) and inner != path.stem:
        return inner + outer
    return outer


def _candidates(files: list[Path], stem_of=label_stem):
    """A function of an image's stem giving the label files that
    :func:`~geotile.dataset_names.image_name` may pair with it (a superset, found by the
    names' bases and SpaceNet ids, so that pairing thousands of tiles takes no
    thousands-squared comparisons)."""
    from geotile.dataset_names import MASK_SUFFIXES, mask_bases
    from geotile.name_keys import name_key
    from geotile.spacenet import image_id

    by_base, by_id, by_tail = defaultdict(set), defaultdict(set), defaultdict(set)
    for f in files:
        stem = name_key(stem_of(f))  # compared in NFC
        for suffix in MASK_SUFFIXES:  # names_mask_of: a base of the image and a suffix
            if stem.lower().endswith(suffix.lower()):
                by_base[stem[:len(stem) - len(suffix)]].add(f)
        ident = image_id(stem)
        by_id[ident].add(f)
        for tail in _tails(ident):  # the label's id ends with "_" + the image's
            by_tail[tail].add(f)

    def of(stem: str) -> list[Path]:
        stem = name_key(stem)
        ident = image_id(stem)
        found = set(by_tail[ident]).union(*(by_base[b] for b in mask_bases(stem)),
                                          *(by_id[t] for t in [ident, *_tails(ident)]))
        return sorted(found)

    return of


def _tails(ident: str) -> list[str]:
    """What follows each underscore of ``ident`` (``a_b_c``: ``b_c``, ``c``)."""
    return [ident[i + 1:] for i, char in enumerate(ident) if char == "_"]


def _refusal(image: Path, labels, files: list[Path], found: list[Path],
             others: dict | None = None) -> str:
    from geotile.image_stems import image_stem
    from geotile.input_paths import input_path
    from geotile.spacenet import image_id

    stem = image_stem(image)  # a STAC Item's id
    suffixes = [label_suffix(f) for f in files] or [".geojson"]
    expected = stem + max(set(suffixes), key=suffixes.count)
    ident = image_id(stem)
    also = f", or a name of its image id {ident}" if ident != stem else ""
    if found:
        names = [f.name for f in found]  # a recursive pattern's files of one name: their paths
        names = names if len(set(names)) == len(names) else [str(f) for f in found]
        return (f"{image.name}: {' and '.join(names)} in {labels} "
                f"{'both' if len(found) == 2 else 'all'} pair with it (expected one file, "
                f"{expected}). Keep one label file per image.")
    if (folder := _dataset_folder(files)) is not None:  # 'type=building/*.parquet'
        return (f"{labels}: it matches the {len(files)} part files of one Parquet dataset, "
                f"not one label file per image. Give its folder: {folder} (read as one "
                "label file for every image).")
    taken = "".join(f"; {f.name} is {input_path(o).name}'s" for f, o in (others or {}).items())
    return (f"{image.name}: no label file in {labels} pairs with it (expected {expected}"
            f"{also}{taken}). Add its label file, or leave the image out.")


def _dataset_folder(files: list[Path]) -> Path | None:
    """The folder whose dataset's part files (Overture's type=building/part-*.parquet)
    ``files`` all are; None where they are no such parts."""
    if len(files) < 2:
        return None
    folder = Path(os.path.commonpath([f.absolute() for f in files]))
    parts = set(dataset_files(folder))
    return folder if parts and {f.absolute() for f in files} <= parts else None


def run_class_values(files, class_field: str, labels_crs=None, layer=None,
                     where: str | None = None) -> list:
    """The values of ``class_field`` over all ``files`` (first seen first; with ``where``,
    of the features it selects): the names of a run's classes, so that every mask of it
    gives a name the same id. A file of features without the field is refused here, before
    any mask is written."""
    from geotile.labels import missing_field, nested_value, read_labels

    seen: dict = {}
    for path in dict.fromkeys(files):
        labels = read_labels(path, labels_crs, layer=layer, class_field=class_field,
                             empty_ok=True, crs_option=None, where=where)
        if class_field not in labels.fields and len(labels):
            raise missing_field(path, class_field, labels.fields)
        column = labels.fields.get(class_field, [])
        for value in [*list(column), *labels.values.get(class_field, [])]:
            if value is not None and not nested_value(value) and value == value:
                seen.setdefault(value, None)
    return list(seen)


def with_run_values(labels, class_field, values):
    """``labels`` whose class values are those of the whole run (``values`` beside its
    own); a file without features (an empty SpaceNet tile) without the field too."""
    import numpy as np

    from geotile.label_set import Labels

    fields = labels.fields
    if class_field not in fields and len(labels) == 0:  # nothing to class: an all-zero mask
        fields = {**fields, class_field: np.array([], dtype=object)}
    known = {**labels.values, class_field: [*values, *labels.values.get(class_field, [])]}
    return Labels(labels.geometries, fields, labels.crs, labels.extent, known,
                  declared=labels.declared, assumed=labels.assumed)


def plan(labels, images, outputs, *, class_field=None, class_map=None, labels_crs=None,
         layer=None, overwrite: bool = False, resume: bool = False,
         where: str | None = None) -> tuple[list, list | None]:
    """(each image's label file, the run's class values or None) for make-masks of a label
    folder, refusing before anything is written: an image without its label file (or with
    two), an output that exists (unless ``overwrite`` or ``resume``), a label file that
    cannot be read when class names are gathered (``class_field`` without ``class_map``),
    a ``where`` expression that does not apply to a label file's fields."""
    check_pairing(images, outputs)
    files = pair_labels(labels, images, rasters=True)
    check_outputs(outputs, [*dict.fromkeys(files), *images], overwrite, resume)
    if where is not None:
        from geotile.label_filter import check_where
        from geotile.labels import field_schema

        for path in dict.fromkeys(files):
            check_where(path, where, field_schema(path, layer))
    values = None
    if class_field is not None and class_map is None:
        values = run_class_values(files, class_field, labels_crs, layer, where)
    return files, values


def check_pairing(images, outputs) -> None:
    """InputError unless there is one output per image."""
    if len(images) != len(outputs):
        raise InputError(f"{counted(len(images), 'image')} but {counted(len(outputs), 'output')}: "
                         "give one output "
                         "path per image.")


def check_outputs(outputs, inputs, overwrite: bool, resume: bool) -> None:
    """plan's refusals of ``outputs`` before anything is written: one of ``inputs``, not a
    GeoTIFF name, there already (unless ``overwrite`` or ``resume``)."""
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.output_files import check_geotiff_name, check_output, check_sidecar_room

    refuse_overwriting_inputs(outputs, inputs)
    for output in outputs:
        check_geotiff_name(output)
        check_sidecar_room(output)  # a mask's class names
        if not resume:
            check_output(output, overwrite)
