"""Which of make-masks' readers of labels in each image's pixels takes a LABELS (xView, DOTA,
YOLO, CVAT, Label Studio, Labelbox, Supervisely, Datumaro, V7 Darwin, Labelme or VIA):
asked in one order by make-masks, its command line and its dask runs; each format's
wording and its reader."""

from __future__ import annotations

YOLO, CVAT, LABELSTUDIO, LABELME, VIA = "yolo", "cvat", "labelstudio", "labelme", "via"
SUPERVISELY, LABELBOX = "supervisely", "labelbox"
DARWIN = "darwin"
DATUMARO = "datumaro"
DOTA = "dota"
XVIEW = "xview"
#: the formats whose shapes are classed by name as Labelme's (``__ignore__`` included)
NAMED_SHAPES = (CVAT, LABELSTUDIO, LABELBOX, SUPERVISELY, LABELME, DARWIN, DOTA, DATUMARO,
                XVIEW)
#: each format's labels in make-masks' words: (what they are, classed how, what --class-map
#: maps)
WORDING = {
    YOLO: ("YOLO labels are", "by data.yaml's names", "the class names"),
    CVAT: ("CVAT shapes are", "by their labels", "the labels"),
    LABELSTUDIO: ("Label Studio's regions are", "by their labels", "the labels"),
    LABELBOX: ("Labelbox objects are", "by their names", "the names"),
    SUPERVISELY: ("Supervisely's objects are", "by their class titles", "the titles"),
    LABELME: ("Labelme shapes are", "by their labels", "the labels"),
    DARWIN: ("V7 Darwin annotations are", "by their names", "the names"),
    DATUMARO: ("Datumaro annotations are", "by their labels", "the labels"),
    VIA: ("VIA regions are", "by a region attribute", "the class names"),
    DOTA: ("DOTA's objects are", "by their categories", "the category names"),
    XVIEW: ("xView's boxes are", "by their type_id", "the type_ids"),
}


def _readers() -> tuple:
    """Each format's (kind, predicate of LABELS, reader), in the order asked."""
    from geotile.cvat_labels import read_cvat
    from geotile.darwin_labels import is_darwin_labels, read_darwin
    from geotile.datumaro_labels import is_datumaro_labels, read_datumaro
    from geotile.dota_files import is_dota_labels
    from geotile.dota_labels import read_dota
    from geotile.label_documents import is_cvat_file, is_labelbox_file
    from geotile.labelbox_labels import read_labelbox
    from geotile.labelme_labels import is_labelme_labels, read_labelme
    from geotile.labelstudio_labels import is_labelstudio_file, read_labelstudio
    from geotile.supervisely_labels import is_supervisely_labels, read_supervisely
    from geotile.via_labels import is_via_file, read_via
    from geotile.xview_labels import is_xview_file, read_xview
    from geotile.yolo_labels import is_yolo_labels, read_yolo

    return ((XVIEW, is_xview_file, read_xview), (DOTA, is_dota_labels, read_dota),
            (YOLO, is_yolo_labels, read_yolo),
            (CVAT, is_cvat_file, read_cvat), (LABELSTUDIO, is_labelstudio_file, read_labelstudio),
            (LABELBOX, is_labelbox_file, read_labelbox),
            (SUPERVISELY, is_supervisely_labels, read_supervisely),
            (DATUMARO, is_datumaro_labels, read_datumaro),
            (DARWIN, is_darwin_labels, read_darwin), (LABELME, is_labelme_labels, read_labelme),
            (VIA, is_via_file, read_via))


def pixel_label_format(labels, layer: str | None = None, images=None) -> str | None:
    """The reader of LABELS, asked in this order (it matters): xView (a GeoJSON file of
    pixel boxes: before it is taken for vector labels), DOTA (before YOLO: both are
    .txt files, told apart by their first line), YOLO (before a pattern of its
    .txt files is taken for vector files), CVAT (one XML of many images' shapes), Label
    Studio (before COCO: its tasks hold "annotations"), Labelbox (an export v2 NDJSON or a
    v1 JSON: before an .ndjson is taken for a GeoJSON sequence), Supervisely (a project, dataset or
    ann/ folder, or one ann file: before its folders' .json are taken for vector files;
    told by its own files, never Labelme's), Datumaro JSON (a subset's file, its
    annotations folder or the export's root: told by categories beside items), V7 Darwin
    JSON (a file, folder or pattern of them: told by its item or image beside
    annotations), Labelme (one file, or a folder or
    pattern of them: among those paired with ``images`` when given), VIA (regions of many
    images: JSON, a CSV told by VIA's exact header, a VIA 3 project); None for other labels
    (vector files, COCO, label rasters)."""
    for kind, asks, _ in _readers():
        if asks(labels, layer, images) if kind == LABELME else asks(labels):
            return kind
    return None


def read_pixel_labels(kind: str, labels, images, class_field: str | None = None):
    """The labels of ``images`` in LABELS of format ``kind``, read and checked by its reader
    (VIA's classed by its region attribute ``class_field``)."""
    read = next(reader for k, _, reader in _readers() if k == kind)
    return read(labels, images, class_field) if kind == VIA else read(labels, images)
