"""Per-patch instance labels for the patches of ``geotile tile``.

Beside the image patches (``images/<stem>_<row>_<col>.<ext>``), ``labels/`` receives
each patch's labels clipped to the patch: GeoJSON in the patch's CRS (the vector tiles of
solaris; properties ``class_id`` and ``class``), and with ``annotations="yolo"`` a YOLO-seg
text file per patch (``<class index> x1 y1 x2 y2 ...``, 0-based class index = class id - 1,
coordinates as fractions of the patch size; ``labels/classes.txt`` names the indices), one
line per instance: a building's holes and parts are joined into its one ring by zero-width
bridges, as Ultralytics' COCO converter does (a line is one object to YOLO).
``annotations="coco"`` writes ``annotations.json``: COCO instances for the whole patch set,
polygons in patch pixel coordinates, categories from the class names, image ids the patch's
row number in index.csv (1 = first patch) and file names its ``image`` column. With
--split, each split also gets its own file, as trainers take them: ``annotations_<split>.json``
(COCO, the same ids) or ``<split>.txt`` (YOLO: its images, ``./images/...``). YOLO also
writes ``data.yaml`` as Ultralytics reads it (:func:`write_data_yaml`).

Buildings cut by a patch edge are clipped; parts smaller than ``min_area`` pixels are
dropped. A padded patch (``--edge pad``) holds only the labels inside the image: its mask
is the ignore value past the image's edge, so the labels agree with the mask. Likewise an
instance that covers no valid pixel of the image in the patch (wholly on its nodata: a
nodata value, mask or alpha band, NaN; the mask's ignore value there) is left out of the
COCO, YOLO and GeoJSON labels alike; one partly on valid pixels is kept whole. A feature
whose class names background (id 0, burnt as 0 in the masks) stays in the GeoJSON but is
no COCO or YOLO instance. Labels are
read once, only near the images (see :func:`geotile.labels.read_labels`). A SpaceNet CSV's
truth is per image: each image's patches hold only its ImageId's rows (as its mask does),
not those of another image of the same place. An image that no label lies on (labels of
another place, a wrong --labels-crs) is named in a warning, as by make-masks.

``labels`` may also be a folder (or a quoted pattern) of label files, one per image, paired
by name as make-masks pairs them (:mod:`geotile.label_folders`): each image's patches hold
its own file's labels; class ids by name are those of all paired files, so that COCO
categories and YOLO class indices mean the same class in every patch. With masks that name
their classes (make-masks' GEOTILE_CLASS_NAMES, GDAL categories) and no class map, class
names take the masks' ids, so that annotations and mask patches number them alike.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely

from geotile.affine_math import apply, window_transform
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

KINDS = ("coco", "yolo")

#: the ``info`` of the COCO files (no date: the same patches give the same file)
COCO_INFO = {"description": "COCO instances of the patches written by `geotile tile`"}

#: what tile (no --line-width) tells of line labels (roads)
LINES_FIX = ("tile annotates polygons only: buffer the lines first, in a CRS in metres (4 m "
             "wide: ogr2ogr -dialect sqlite -sql \"SELECT ST_Buffer(geometry, 2) AS geometry "
             "FROM roads\" -nln roads roads_4m.gpkg roads.geojson), or burn them with "
             "`geotile make-masks LABELS IMAGE --line-width M` and tile the masks (--masks).")


@dataclasses.dataclass(frozen=True)
class AnnotationOptions:
    """Where the labels come from and which annotations to write."""

    labels: str | os.PathLike
    annotations: str | None = None
    min_area: float = 0.0
    class_field: str | None = None
    class_map: dict[str, int] | None = None
    labels_crs: str | None = None
    layer: str | None = None
    #: the class ids the masks of the run name ({name: id}; :meth:`named_by`), and the mask
    #: naming them first
    mask_classes: dict[str, int] | None = None
    mask_source: str | None = None
    #: the class names a STAC label item declares (ids not depending on those a tile holds)
    class_values: tuple | None = None

    def __post_init__(self) -> None:
        from geotile.stac_labels import item_labels, label_item

        item = label_item(self.labels)  # a STAC label item stands for its labels asset
        if item is not None:
            labels, field, mapping, values = item_labels(item, self.class_field,
                                                         self.class_map, None)
            for name, value in (("labels", labels), ("class_field", field),
                                ("class_map", mapping),
                                ("class_values", values and tuple(values))):
                object.__setattr__(self, name, value)
        if self.annotations is not None and self.annotations not in KINDS:
            raise InputError(f"--annotations must be one of {', '.join(KINDS)}, "
                             f"got {self.annotations!r}")
        if self.min_area < 0:
            raise InputError("--min-area is an area in pixels, at least 0")
        from geotile.pixel_labels import is_pixels

        if self.labels_crs is not None and not is_pixels(self.labels_crs):  # checked before
            from geotile.label_set import parse_crs  # any patch is cut

            parse_crs(self.labels_crs, "--labels-crs")
        from geotile.input_paths import input_exists, input_path
        from geotile.label_rasters import is_label_raster

        labels = input_path(self.labels)
        if input_exists(labels) and is_label_raster(labels):  # a mask, most likely
            raise InputError(f"{labels} is a raster: --labels takes vector labels (GeoJSON, "
                             "GeoPackage, Shapefile, GeoParquet or a SpaceNet CSV). Give a "
                             "mask raster as --masks; COCO/YOLO annotations need polygons "
                             "(`geotile vectorize MASK -o labels.gpkg` makes them).")

    def settings(self) -> dict:
        """The options as --resume compares them: the labels file by its absolute path, as
        the images (not as typed: relative, absolute, from another folder); the mask the
        classes were named from left out: a path as typed (or --palette's temporary mask),
        named in messages only, the masks themselves being among the run's files."""
        from geotile.resume import identity

        settings = {**dataclasses.asdict(self), "labels": identity(self.labels)[0]}
        settings.pop("mask_source")
        return settings

    def named_by(self, masks, shown=None) -> AnnotationOptions:
        """These options with the class ids that ``masks`` name (names by id, all masks
        agreeing: tile checks it), for labels classed by name without a --class-map: their
        annotations then number the classes as the mask patches do; for labels without
        classes, which the masks' building class names. ``shown``: what messages
        call each mask (the label rasters --palette made them from), else the mask."""
        from geotile.class_keys import class_key, is_placeholder_name
        from geotile.raster import open_raster
        from geotile.raster_kinds import class_names

        if self.class_map is not None or not masks:
            return self
        named: dict[str, int] = {}
        keys: set[str] = set()
        source = None
        for mask, called in zip(masks, shown or masks, strict=True):
            with open_raster(mask) as src:
                names = class_names(src) or []
            for i, name in enumerate(names[1:255], start=1):
                if not is_placeholder_name(name) and class_key(name) not in keys:
                    keys.add(class_key(name))
                    named[name] = i
                    source = source or str(called)
        if not named:
            return self
        return dataclasses.replace(self, mask_classes=named, mask_source=source)

    def is_folder(self) -> bool:
        """Whether ``labels`` is a folder or pattern of label files, one per image."""
        from geotile.label_folders import is_label_folder

        return is_label_folder(self.labels, self.layer)

    def files_of(self, images: Sequence) -> list:
        """Each image's label file: the one ``labels`` file, or a folder's file paired with
        the image by name (InputError naming an image without its file, or with two)."""
        from geotile.input_paths import input_path
        from geotile.label_folders import pair_labels

        if self.is_folder():
            return pair_labels(self.labels, images)
        return [input_path(self.labels)] * len(images)


@dataclasses.dataclass(frozen=True)
class PatchLabels:
    """Labels read for a tile run and checked on its images (:func:`read_patch_labels`)."""

    labels: object
    #: the labels classed and reprojected per image CRS (its WKT; None: pixel coordinates)
    prepared: dict
    #: the file they were read from
    source: str | os.PathLike = ""


def read_patch_labels(images: Sequence[Path], options: AnnotationOptions) -> list[PatchLabels]:
    """Each image's labels (its file's, read once near the images it labels) checked on it
    (layer, CRS, classes): done before any patch is cut, so bad labels stop the run at its
    start. A label folder's class names are gathered over all its paired files."""
    from geotile.input_paths import input_path
    from geotile.label_folders import run_class_values, with_run_values
    from geotile.labels import image_regions, read_labels
    from geotile.masks import prepare_labels
    from geotile.no_georef import labels_refusal, map_crs
    from geotile.pixel_labels import is_pixels, one_image, pixel_refusal, placed_on, warn_if_pixels
    from geotile.raster import open_raster
    from geotile.spacenet import is_spacenet_csv

    files, folder = options.files_of(images), options.is_folder()
    values = None
    if folder and options.class_field is not None and options.class_map is None:
        values = run_class_values(files, options.class_field, options.labels_crs,
                                  options.layer)
    elif options.class_values is not None:
        values = list(options.class_values)
    by_file: dict = {}
    pixels = is_pixels(options.labels_crs)
    for source in dict.fromkeys(files):
        its_images = [i for i, f in zip(images, files, strict=True) if f == source]
        if pixels:  # one image's pixel coordinates
            one_image(source, its_images)
        labels = read_labels(source, options.labels_crs, layer=options.layer,
                             images=list(its_images), regions=image_regions(its_images),
                             class_field=options.class_field, crs_option=None,
                             empty_ok=True)  # an empty file (a tile without buildings): none
        if values is not None:
            if options.class_values is not None:  # a STAC item's: its names only
                from geotile.stac_labels import check_declared

                check_declared(labels, options.class_field, values, source)
            labels = with_run_values(labels, options.class_field, values)
        class_map = options.class_map or _masks_class_map(labels, options, source)
        prepared: dict = {}
        unplaced: list[str] = []
        for image in map(input_path, its_images):
            with open_raster(image) as src:  # opened quietly: tile warns of no georeference
                if pixels:  # placed through its own geotransform, in its CRS
                    labels = placed_on(labels, src, image, source)
                refusal = labels_refusal(src, image, source, labels.crs, options.layer)
                if refusal is None and options.labels_crs is None:  # lon/lat by default,
                    refusal = pixel_refusal(labels, src, image, source)  # but its pixels
                if refusal:
                    raise InputError(refusal)
                if options.labels_crs is None:
                    warn_if_pixels(labels, src, image, source)
                crs = map_crs(src)  # pixel coordinates where nothing places it in its CRS
            if crs is None and labels.crs is None:
                unplaced.append(image.name)
            key = crs.to_wkt() if crs else None
            if key not in prepared:
                frame, names = prepare_labels(labels, crs, source, options.class_field,
                                              class_map, lines_fix=LINES_FIX)
                if class_map is None:  # ids (or no class field): named as the masks
                    names = _ids_named_by_masks(names, options)
                if options.class_field is None and options.mask_classes:
                    frame, names = _one_class_as_masks(frame, names, options, source)
                prepared[key] = frame, names
        if len(unplaced) > 1 and not is_spacenet_csv(source):  # one image's pixels
            raise InputError(
                f"{source}: labels in pixel coordinates belong to one image, but "
                f"{len(unplaced)} images without georeferencing were given "
                f"({', '.join(unplaced[:3])}{', ...' if len(unplaced) > 3 else ''}): each "
                "would get them. Give --labels a folder of one label file per image (named "
                "after it).")
        by_file[source] = PatchLabels(labels, prepared, source)
    return [by_file[f] for f in files]


def _ids_named_by_masks(names: dict[int, str], options: AnnotationOptions) -> dict[int, str]:
    """``names`` of a class field of ids ({2: "2"}) with the names the masks give those ids
    (and the masks' other classes), as labels classed by name take them: COCO categories
    and YOLO classes named as the mask patches, not "2"."""
    if not options.mask_classes or options.class_field is None:
        return names
    by_id = {i: name for name, i in options.mask_classes.items()}
    return {**by_id, **{i: by_id[i] if i in by_id and name == str(i) else name
                        for i, name in names.items()}}


def _one_class_as_masks(frame, names: dict[int, str], options: AnnotationOptions, source):
    """Labels without classes (one class, 'building' 1) numbered as the masks where they
    name that class (land cover: building 2), with all the masks' classes as categories;
    elsewhere left as they are, with a warning naming the masks' classes for that id (a
    road mask's road 1) and the labels' field holding the masks' classes, if any."""

    from geotile.class_keys import class_key

    ((own_id, own_name),) = names.items()
    same = [i for name, i in options.mask_classes.items()
            if class_key(name) == class_key(own_name)]
    if same:
        by_id = {i: name for name, i in options.mask_classes.items()}
        return frame.replace(class_id=np.full(len(frame), same[0], dtype=np.int64)), by_id
    listed = ", ".join(f"{name} {i}" for name, i in options.mask_classes.items())
    keys = {class_key(name) for name in options.mask_classes}
    fields = [field for field, values in frame.fields.items()
              if any(class_key(str(v)) in keys for v in values if v is not None)]
    fix = (f"give --class-field {fields[0]}, the field holding them" if fields
           else "give --class-field with the labels' field holding them, if they have one")
    advice = (f"its features have no class (no --class-field): they are annotated "
              f"'{own_name}' {own_id}, but the masks' classes are {listed} "
              f"({options.mask_source}); to annotate them as the masks, {fix}.")
    # a folder's label files: said once in full, the others in one line at the end
    warn(GeotileWarning(f"{source}: {advice}", about=Path(str(source)).name,
                        advice=advice))
    return frame, names


def _masks_class_map(labels, options: AnnotationOptions, source) -> dict[str, int] | None:
    """The masks' class ids ({name: id}) for ``labels`` whose class field holds names, None
    where the masks name none or the field holds ids; InputError naming a class of the
    labels that the masks do not name (but background)."""
    from geotile.class_keys import class_key, names_background
    from geotile.labels import as_number

    field = options.class_field
    if not options.mask_classes or field is None or field not in labels.fields:
        return None  # (a missing field is refused where the labels are classed)
    values = [v for v in [*labels.fields[field], *labels.values.get(field, [])]
              if v is not None and str(v).strip() and not (isinstance(v, float) and v != v)]
    if not values or any(as_number(v) is not None for v in values):
        return None  # ids, or ids mixed with names (refused where the labels are classed)
    known = {class_key(name) for name in options.mask_classes}
    missing = [v for v in dict.fromkeys(str(v).strip() for v in values)
               if class_key(v) not in known and not names_background(v)]
    if missing:
        listed = ", ".join(f"{name} {i}" for name, i in options.mask_classes.items())
        raise InputError(
            f"{source}: class {missing[0]!r} of field {field!r} is not a class of the masks "
            f"({options.mask_source}: {listed}), so its annotations would have no id of "
            "theirs. Give --class-map classes.json with the masks' ids and one for "
            f"{missing[0]!r}, or make the masks from these labels.")
    return dict(options.mask_classes)


def write_patch_labels(folder: Path, images: Sequence[Path], options: AnnotationOptions,
                       read: Sequence[PatchLabels] | None = None,
                       splits: Sequence[str] = ()) -> int:
    """Write the labels of every patch listed in ``folder``/index.csv (patches of
    ``images``; ``read``: each image's labels from :func:`read_patch_labels`, else read
    here; ``splits``: the split names in order, for data.yaml); returns the number of
    instances written."""
    from rasterio.windows import Window

    from geotile.input_paths import input_path, source_name
    from geotile.label_set import grid_envelope, select_bounds
    from geotile.masks import own_rows, say_no_labels_on
    from geotile.no_georef import map_crs, quiet_rasterio
    from geotile.raster import alpha_holds_values, may_hold_nodata, open_raster, valid_pixels
    from geotile.spacenet import is_spacenet_csv

    folder = Path(folder)
    with (folder / "index.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    read = read or read_patch_labels(images, options)
    (folder / "labels").mkdir(exist_ok=True)
    # as written: a Path would make /vsizip//tmp/x.zip/a.tif /vsizip/tmp/x.zip/a.tif
    by_source = {source_name(image): input_path(image) for image in images}
    of_image = {input_path(image): labelled for image, labelled in zip(images, read,
                                                                       strict=True)}
    coco_images, coco_annotations, categories = [], [], {}
    seen: set = set()
    own: dict = {}  # a SpaceNet CSV's rows per image: its truth is per ImageId
    count = 0
    # the image of the rows at hand (index.csv lists an image's patches together), opened
    # once for them
    opened = contextlib.ExitStack()
    src, src_path = None, None
    with opened:
        for number, row in enumerate(rows, start=1):
            image = by_source[row["source"]]
            if image != src_path:
                opened.close()
                # opened quietly: tile warned of no georeference
                src, src_path = opened.enter_context(open_raster(image)), image
                # pixel coordinates where nothing places the raster in the CRS it names
                crs, transform, shape = map_crs(src), src.transform, (src.width, src.height)
                gaps = may_hold_nodata(src)
                data_alpha = gaps and alpha_holds_values(src)  # RGB+NIR: NIR 0 is a value
                labels, source = of_image[image].labels, of_image[image].source
                spacenet_rows = is_spacenet_csv(source)
            frame, names = of_image[image].prepared[crs.to_wkt() if crs else None]
            if spacenet_rows:
                if image not in own:
                    own[image] = own_rows(frame, labels, image)
                frame = own[image]
            if image not in seen:  # labels that miss it (a wrong CRS, another place): said
                seen.add(image)
                extent = grid_envelope(transform, *shape)
                if len(select_bounds(frame, extent)) == 0:
                    say_no_labels_on(labels, frame, source, image, extent, crs,
                                     f"the patches of {image.name} have no annotations",
                                     "their patches have no annotations", options.layer,
                                     size=shape)
            categories.update(names)
            x_off, y_off = int(row["x_off"]), int(row["y_off"])
            width, height = int(row["width"]), int(row["height"])
            patch_transform = window_transform(Window(x_off, y_off, width, height), transform)
            near = select_bounds(frame, grid_envelope(patch_transform, width, height))
            inside = (min(width, shape[0] - x_off), min(height, shape[1] - y_off))  # not padding
            instances = clip_to_patch(near.geometries, near.fields["class_id"], patch_transform,
                                      width, height, options.min_area, inside)
            if instances and gaps:  # none wholly on the image's nodata (the mask's ignore)
                with quiet_rasterio():
                    valid = valid_pixels(src, Window(x_off, y_off, *inside), None, data_alpha)
                instances = on_valid_pixels(instances, valid)
            stem = Path(row["image"]).stem
            _write_geojson(folder / "labels" / f"{stem}.geojson", instances, patch_transform,
                           crs, names)
            # a feature whose class names background is burnt as 0: no object to annotate
            # (YOLO index -1, a COCO category 0 that no trainer knows)
            instances = [(pixels, class_id) for pixels, class_id in instances if class_id]
            if options.annotations == "yolo":
                _write_yolo(folder / "labels" / f"{stem}.txt", instances, width, height)
            if options.annotations == "coco":
                coco_images.append({"id": number, "file_name": row["image"], "width": width,
                                    "height": height})
                for pixels, class_id in instances:
                    coco_annotations.append(_coco_annotation(len(coco_annotations) + 1, number,
                                                             pixels, class_id))
            count += len(instances)
    if options.annotations == "yolo":
        top = max(categories) if categories else 1
        classes = [categories.get(i, str(i)) for i in range(1, top + 1)]  # index i - 1
        (folder / "labels" / "classes.txt").write_text(
            "".join(f"{name}\n" for name in classes),
            encoding="utf-8")  # class names in any script, whatever the locale
        first = by_source[rows[0]["source"]] if rows else None
        write_data_yaml(folder, rows, classes, splits, _yolo_channels(folder, rows, first))
    if options.annotations == "coco":
        # info and licenses as COCO's own files: pycocotools 2.0.9/2.0.10's loadRes (any
        # COCOeval) copies dataset['info'], a KeyError without it
        document = {"info": dict(COCO_INFO), "licenses": [], "images": coco_images,
                    "annotations": coco_annotations,
                    "categories": [{"id": i, "name": n, "supercategory": "none"}
                                   for i, n in sorted(categories.items())]}
        (folder / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    if options.annotations is not None:
        _write_splits(folder, rows, options.annotations,
                      document if options.annotations == "coco" else None)
    return count


def _write_splits(folder: Path, rows: list[dict], kind: str, document: dict | None) -> None:
    """With --split, one file per split of index.csv (``rows``), as trainers take them:
    COCO ``annotations_<split>.json`` (``document`` cut to the split's patches, same ids),
    YOLO ``<split>.txt`` (its images as ``./images/...``, relative to the list's folder)."""
    for split in dict.fromkeys(row.get("split") for row in rows if row.get("split")):
        numbers = {n for n, row in enumerate(rows, start=1) if row["split"] == split}
        if kind == "yolo":
            (folder / f"{split}.txt").write_text(
                "".join(f"./{rows[n - 1]['image']}\n" for n in sorted(numbers)),
                encoding="utf-8")
            continue
        part = {"info": document["info"], "licenses": document["licenses"],
                "images": [i for i in document["images"] if i["id"] in numbers],
                "annotations": [a for a in document["annotations"]
                                if a["image_id"] in numbers],
                "categories": document["categories"]}
        (folder / f"annotations_{split}.json").write_text(json.dumps(part), encoding="utf-8")


#: the patch formats Ultralytics trains on (its IMG_FORMATS; not .npy)
YOLO_IMAGE_SUFFIXES = (".tif", ".png")


def _yolo_channels(folder: Path, rows: list[dict], source) -> int | None:
    """The ``channels`` data.yaml gives Ultralytics for the image patches of index.csv's
    ``rows`` (``source``: the image of the first row), or None for its default
    (3: BGR, bands past the third dropped; a grey patch read as 3 grey channels): the
    patch's bands less an alpha band (Ultralytics' default drops an RGBA's alpha; an
    RGB+NIR's NIR is a band). -1 where Ultralytics cannot read the patches (not 8 bit):
    warned, and no data.yaml."""
    if not rows or Path(rows[0]["image"]).suffix.lower() not in YOLO_IMAGE_SUFFIXES:
        return None
    from geotile.no_georef import quiet_rasterio
    from geotile.patch_writer import colour_options
    from geotile.raster import open_raster

    with quiet_rasterio(), open_raster(folder / rows[0]["image"]) as patch:
        count, dtype = patch.count, patch.dtypes[0]
    if dtype != "uint8":
        warn(
            f"the image patches are {dtype}, and Ultralytics reads 8-bit images only (a "
            "16-bit one by its high byte: values 0-4095 as 0-15; a 16-bit RGB TIFF not at "
            "all), so no data.yaml was written (the labels were). Scale the images to 8 bit "
            "first (gdal_translate -ot Byte -scale MIN MAX 0 255 in.tif in_8bit.tif) and tile "
            "those for Ultralytics.", GeotileWarning)
        return -1
    with quiet_rasterio(), open_raster(source) as src:
        alpha = colour_options(src, count).get("alpha") == "yes"
    channels = count - alpha
    return None if channels in (1, 3) else channels


def write_data_yaml(folder: Path, rows: list[dict], classes: list[str],
                    splits: Sequence[str], channels: int | None = None) -> None:
    """``folder``/data.yaml as Ultralytics' check_det_dataset reads it: no ``path`` key, so
    that its root is the YAML's own folder wherever training runs; ``train``/``val``/``test``
    the split lists of index.csv's ``rows`` (``splits``, in order; a split without patches
    has no key), or ``images`` for each without --split; ``channels`` where given
    (:func:`_yolo_channels`: a 4-band patch read whole); ``names`` {0: classes[0], ...}.
    Plain text (names JSON-quoted: a YAML double-quoted scalar); not written for patches
    Ultralytics cannot read (.npy; ``channels`` -1: not 8 bit)."""
    if not rows or Path(rows[0]["image"]).suffix.lower() not in YOLO_IMAGE_SUFFIXES \
            or channels == -1:
        return
    present = {row.get("split") for row in rows}
    if present - {None, ""}:
        keys = [f"{s}: {s}.txt" for s in splits if s in present]
    else:
        keys = [f"{s}: images" for s in splits]
    lines = ["# Ultralytics dataset written by `geotile tile`: paths are relative to this",
             "# file's folder (Ultralytics' root when there is no `path` key).",
             *keys, *([f"channels: {channels}"] if channels else []), "names:",
             *(f"  {i}: {json.dumps(name, ensure_ascii=False)}"
               for i, name in enumerate(classes))]
    (folder / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


#: px^2: a part this small is a label touching the patch's edge, cut off by float rounding
#: of its coordinates (255.9999999999 px), not a part of it
SLIVER = 1e-6
#: px: the precision annotations are written at (COCO's 3 decimals); a part with no area
#: at it (a digitising sliver 2e-6 px wide) would be a zero-area annotation
WRITTEN_PX = 1e-3


#: holes a polygon may have for COCO to cut through its first, as it always did: past them
#: the cut goes through the middle one, so that each cut halves them
FEW_HOLES = 8


def hole_free_parts(geometry) -> list:
    """Polygons without holes whose union is ``geometry`` (COCO polygons hold no holes):
    each polygon with one is cut in two by a vertical line through a hole."""
    out, todo = [], [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"]
    while todo:
        polygon = todo.pop()
        if polygon.is_empty or polygon.area <= 0:
            continue
        if not polygon.interiors:
            out.append(polygon)
            continue
        x = shapely.Polygon(_cut_hole(polygon.interiors)).representative_point().x
        minx, miny, maxx, maxy = polygon.bounds
        for half in (shapely.box(minx - 1, miny - 1, x, maxy + 1),
                     shapely.box(x, miny - 1, maxx + 1, maxy + 1)):
            todo += [p for p in shapely.get_parts(polygon.intersection(half))
                     if p.geom_type == "Polygon"]
    return out


def _cut_hole(holes):
    """The hole to cut a polygon through: its first, or of many, the middle one from left
    to right (cutting through the first of 2,000 holes in that order opened one hole a
    cut, each cut overlaying all the holes left: 27 s)."""
    if len(holes) <= FEW_HOLES:
        return holes[0]
    bounds = shapely.bounds(list(holes))
    return holes[int(np.argsort(bounds[:, 0] + bounds[:, 2])[len(holes) // 2])]


def clip_to_patch(geometries, class_ids, patch_transform, width: int, height: int,
                  min_area: float = 0.0, inside: tuple[int, int] | None = None) -> list[tuple]:
    """(Polygon/MultiPolygon in patch pixel coordinates, class id) of each geometry clipped
    to the patch, in input order; parts under ``min_area`` px, with no area at the written
    precision (``WRITTEN_PX``), and empty results dropped.
    ``inside``: (columns, rows) of the patch inside the image, from its top-left corner
    (a padded patch's labels stop at the image's edge)."""
    if len(geometries) == 0:
        return []
    if inside is not None:
        width, height = min(width, inside[0]), min(height, inside[1])
    if width <= 0 or height <= 0:
        return []
    inverse = ~patch_transform
    pixels = shapely.transform(np.asarray(geometries, dtype=object), lambda xy: np.column_stack(
        apply(inverse, xy[:, 0], xy[:, 1])))
    clipped = shapely.intersection(pixels, shapely.box(0, 0, width, height))
    out = []
    for geom, class_id in zip(clipped, class_ids, strict=True):
        parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"
                 and p.area > SLIVER and p.area >= min_area
                 and shapely.set_precision(p, WRITTEN_PX).area > 0]
        if parts:
            out.append((parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts),
                        int(class_id)))
    return out


def on_valid_pixels(instances: list[tuple], valid: np.ndarray) -> list[tuple]:
    """The ``instances`` (patch pixel coordinates) that cover some valid pixel of
    ``valid`` ((rows, cols) bool from the patch's top-left corner), unchanged: one lying
    wholly on the image's nodata is no object in the image (its mask is the ignore value
    there). A pixel counts when the instance covers part of it (more than a float sliver)."""
    from geotile.quiet_warnings import rasterize

    if valid.all():
        return instances
    if not valid.any():
        return []
    kept = []
    for pixels, class_id in instances:
        # pixel centres inside the instance: it covers part of each such pixel
        centres = rasterize([pixels], out_shape=valid.shape, dtype="uint8") > 0
        if (centres & valid).any():
            kept.append((pixels, class_id))
            continue
        # a thin or small instance: the valid pixels it touches, by the area it covers
        touched = rasterize([pixels], out_shape=valid.shape, dtype="uint8", all_touched=True)
        rows, cols = np.nonzero((touched > 0) & valid)
        boxes = shapely.box(cols, rows, cols + 1, rows + 1)
        if len(boxes) and shapely.area(shapely.intersection(boxes, pixels)).max() > SLIVER:
            kept.append((pixels, class_id))
    return kept


#: GeoJSON 2008's name of WGS 84 in longitude, latitude order
CRS84_URN = "urn:ogc:def:crs:OGC:1.3:CRS84"


def _write_geojson(path: Path, instances, patch_transform, crs, names) -> None:
    """The instances back in map coordinates of the patch's CRS (named in a crs member;
    without one ``"crs": null``, GeoJSON 2008's "no CRS", which geotile reads back as such:
    with no member, RFC 7946 readers take the coordinates for lon/lat). WGS 84 lon/lat is
    named CRS84, as GDAL's GeoJSON writer names it: EPSG::4326's axes are lat, lon."""
    features = []
    for pixels, class_id in instances:
        geom = shapely.transform(pixels, lambda xy: np.column_stack(
            apply(patch_transform, xy[:, 0], xy[:, 1])))
        features.append({"type": "Feature",
                         "properties": {"class_id": class_id,
                                        "class": names.get(class_id, str(class_id))},
                         "geometry": json.loads(shapely.to_geojson(geom))})
    document: dict = {"type": "FeatureCollection", "crs": None}
    if crs is not None:
        epsg = crs.to_epsg(confidence_threshold=100)  # a near match names another datum
        name = (CRS84_URN if epsg == 4326 else f"urn:ogc:def:crs:EPSG::{epsg}" if epsg
                else crs.to_wkt())
        document["crs"] = {"type": "name", "properties": {"name": name}}
    document["features"] = features
    path.write_text(json.dumps(document), encoding="utf-8")


def _write_yolo(path: Path, instances, width: int, height: int) -> None:
    """One line per instance (a YOLO-seg line is one object): its ring, holes and parts
    joined into it by :func:`joined_ring`."""
    lines = []
    for pixels, class_id in instances:
        coords = np.clip(joined_ring(pixels) / (width, height), 0, 1).ravel()
        lines.append(" ".join([str(class_id - 1), *(f"{v:.6f}" for v in coords)]))
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def joined_ring(geometry) -> np.ndarray:
    """The rings of a Polygon/MultiPolygon (exteriors and holes) as one ring, (n, 2) without
    its closing vertex: each ring is joined to the nearest one not yet joined at their
    closest points by a zero-width bridge, walked there and back (Ultralytics'
    ``merge_multi_segment``). Exteriors and holes wind opposite ways, so the ring's
    shoelace area is the geometry's: the bridges add nothing."""
    rings = []
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        polygon = shapely.geometry.polygon.orient(polygon, 1.0)  # holes the other way
        rings += [np.asarray(r.coords)[:-1] for r in (polygon.exterior, *polygon.interiors)]
    if len(rings) <= 1:
        return rings[0] if rings else np.empty((0, 2))
    lines = np.array([shapely.LinearRing(r) for r in rings], dtype=object)
    order = _chain(lines)
    ends: dict[int, list] = {i: [None, None] for i in order}  # (entry, exit) points
    for a, b in itertools.pairwise(order):
        ends[a][1], ends[b][0] = np.asarray(shapely.shortest_line(lines[a], lines[b]).coords)
    entry, exit_ = {}, {}
    for i, (enter, leave) in ends.items():
        for point in (enter, leave):
            if point is not None:
                rings[i] = _with_vertex(rings[i], point)
        if enter is not None:
            entry[i] = _vertex_index(rings[i], enter)
        if leave is not None:
            exit_[i] = _vertex_index(rings[i], leave)
    forward, back = [], []
    for position, i in enumerate(order):
        ring = rings[i]
        if position in (0, len(order) - 1):  # an end of the chain: walked all round
            start = exit_[i] if position == 0 else entry[i]
            forward.append(np.vstack([np.roll(ring, -start, axis=0), ring[start:start + 1]]))
        else:  # walked from its entry to its exit, and on round back to its entry
            rolled = np.roll(ring, -entry[i], axis=0)
            turn = (exit_[i] - entry[i]) % len(ring)
            forward.append(rolled[:turn + 1])
            back.append(np.vstack([rolled[turn:], rolled[:1]]))
    out = np.vstack(forward + back[::-1])
    keep = np.ones(len(out), bool)
    keep[1:] = np.any(out[1:] != out[:-1], axis=1)  # no vertex twice in a row
    out = out[keep]
    return out[:-1] if len(out) > 1 and (out[-1] == out[0]).all() else out


def _chain(lines: np.ndarray) -> list[int]:
    """The order the rings ``lines`` are joined in: the first, then each time the nearest
    ring not yet joined (the first of those equally near). Only the rings whose envelopes
    are that near are measured, found in an STRtree: comparing each ring with all those
    left took hours for a polygon of 16,000 holes."""
    left = np.ones(len(lines), bool)
    left[0] = False
    bounds = shapely.bounds(lines)
    ids = np.arange(1, len(lines))
    tree = shapely.STRtree(lines[ids])
    order = [0]
    for _ in range(len(lines) - 1):
        here = order[-1]
        reach = 0.0
        while not len(near := _near(tree, ids, left, bounds[here], reach)):
            x0, y0, x1, y1 = bounds[here]
            reach = max(2 * reach, x1 - x0, y1 - y0, 1e-9)
        distances = shapely.distance(lines[here], lines[near])
        if distances.min() > reach:  # a ring whose envelope is nearer may be nearer still
            near = _near(tree, ids, left, bounds[here], distances.min())
            distances = shapely.distance(lines[here], lines[near])
        order.append(int(near[distances == distances.min()].min()))
        left[order[-1]] = False
        if 2 * left.sum() < len(ids):  # most of the tree joined: a tree of those left
            ids = np.flatnonzero(left)
            tree = shapely.STRtree(lines[ids])
    return order


def _near(tree, ids: np.ndarray, left: np.ndarray, bounds, reach: float) -> np.ndarray:
    """The rings not yet joined (``left``) among ``ids`` (``tree``'s) whose envelopes lie
    within ``reach`` of the envelope ``bounds``: all rings that near, and some more."""
    reach = reach * (1 + 1e-9) + 1e-12  # the distances GEOS measures round too
    x0, y0, x1, y1 = bounds
    near = ids[tree.query(shapely.box(x0 - reach, y0 - reach, x1 + reach, y1 + reach))]
    return near[left[near]]


def _vertex_index(ring: np.ndarray, point) -> int:
    """The index of ``ring``'s vertex nearest ``point``."""
    return int(np.argmin(np.hypot(*(ring - point).T)))


def _with_vertex(ring: np.ndarray, point) -> np.ndarray:
    """``ring`` ((n, 2), not closed) with ``point``, which lies on it, as a vertex: put on
    the nearest edge unless a vertex is there already."""
    if np.hypot(*(ring - point).T).min() <= 1e-9:
        return ring
    a, b = ring, np.roll(ring, -1, axis=0)  # edge j: a[j] -> b[j]
    d = b - a
    length2 = np.maximum((d * d).sum(axis=1), 1e-300)
    t = np.clip(((point - a) * d).sum(axis=1) / length2, 0, 1)
    j = int(np.argmin(np.hypot(*(a + t[:, None] * d - point).T)))
    return np.insert(ring, j + 1, point, axis=0)


def _coco_annotation(annotation_id: int, image_id: int, pixels, class_id: int) -> dict:
    minx, miny, maxx, maxy = pixels.bounds
    segmentation = [[round(float(v), 3) for v in np.asarray(p.exterior.coords)[:-1].ravel()]
                    for p in hole_free_parts(pixels)]
    return {"id": annotation_id, "image_id": image_id, "category_id": class_id,
            "segmentation": segmentation, "area": float(pixels.area),
            "bbox": [float(minx), float(miny), float(maxx - minx), float(maxy - miny)],
            "iscrowd": 0}
