"""`geotile make-masks`: rasterize footprints onto each image's grid."""

from __future__ import annotations

from pathlib import Path

import click

from geotile.cli.options import (
    INPUT_PATH,
    FloatRange,
    check_merge,
    check_resume,
    class_map_opt,
    cluster_opts,
    creation_options_opt,
    given,
    home_callback,
    json_opt,
    labels_crs_opt,
    merge_opt,
    output_opt,
    overwrite_opt,
    resolve_outputs,
    resume_opt,
    write_merge,
)


def _line_options(command):
    """--line-width and --line-cap: LineString labels (roads) burnt with a width."""
    command = click.option(
        "--line-cap", type=click.Choice(["round", "flat"]), default="round", show_default=True,
        help="Ends of burnt lines: round (solaris, SpaceNet roads) or flat (cut at the end).",
    )(command)
    return click.option(
        "--line-width", type=FloatRange(min=0, min_open=True), default=None,
        metavar="M", help="Burn LineString labels (roads) M metres wide (buffered by M/2; ground "
        "metres with --labels-crs pixels too, pixels on an image without georeferencing). "
        "Without it a file of lines is an error and lines among polygons are left out.",
    )(command)


@click.command("make-masks", short_help="Rasterize footprints into masks on each image's grid.")
@click.argument("labels", type=INPUT_PATH)
@click.argument("images", nargs=-1, required=True, type=INPUT_PATH)
@output_opt("Mask .tif for one IMAGE; a folder receiving <stem>.tif for several.")
@click.option("--class-field", metavar="FIELD",
              help="Attribute holding the class (name or id); VIA: the region attribute "
              "naming it, where regions have several.")
@class_map_opt(
    'JSON file {"building": 1, ...} mapping class names to ids 1..254 (with a label '
    "raster of class indices: the names of its ids, over names the raster carries; it may "
    'name id 0, {"water": 0}, else 0 keeps the raster\'s own name, or is background).'
)
@click.option("--all-touched", is_flag=True, help="Burn every pixel a polygon touches.")
@click.option(
    "--channels",
    default="footprint",
    show_default=True,
    metavar="LIST",
    help="Bands to write, comma-separated, in the order given, each once: footprint, "
         "boundary, contact (e.g. footprint,boundary,contact).",
)
@click.option(
    "--boundary-width", type=click.IntRange(min=1), default=3, show_default=True,
    help="Width in px of the boundary band centred on outlines (rounded down to even, >= 2).",
)
@click.option(
    "--contact-spacing", type=click.IntRange(min=1), default=10, show_default=True,
    help="Gaps narrower than this (px) between two buildings are marked as contact.",
)
@click.option("--palette", metavar="NAME|FILE.json", callback=home_callback,
              help="LABELS is a colour-coded label raster: built-in 'potsdam' (ISPRS classes "
              "impervious_surfaces..clutter = 1..6; also 'vaihingen'), 'deepglobe', 'uavid', "
              "'dronedeploy', 'isaid', 'second', 'fbp' (Five Billion Pixels; each dataset's "
              "classes and ignored colour; SECOND's white, no change, is 0), "
              'or a JSON file {"building": [0, 0, 255], '
              "...} (ids 1..K in file order; 'background' is 0, 'ignore' is 255). A colour "
              "within 16 (in every band) of a palette colour takes its class (JPEG labels); "
              "others become 255 too, with a warning.")
@click.option("--layer", metavar="NAME",
              help="Layer of LABELS to read when the file has several (GeoPackage...).")
@click.option("--where", metavar="EXPR",
              help="Burn only the features of vector LABELS that this OGR SQL WHERE "
              "expression over their fields selects, as gdal_rasterize -where: "
              "'confidence >= 0.75', 'building IS NOT NULL', \"class IN ('house', 'shed')\", "
              "\"name LIKE 'Rue%'\" (as OGR SQL: LIKE minds case, = and IN do not; in a "
              "GeoPackage too), "
              "AND/OR, OGR_GEOM_AREA > 10 (in the file's units); quote names with spaces or "
              "capitals: '\"Building Type\" IS NULL'. Every format alike (a CSV's columns "
              "typed as -oo AUTODETECT_TYPE=YES types them); each file of a label folder "
              "filtered. Names of --class-field get ids 1..N from the selected features "
              "only (of the whole file or folder: the same in every mask). Not for labels "
              "in each image's pixels (COCO, YOLO...) nor label rasters.")
@click.option("--ignore", "ignore", metavar="REGIONS", multiple=True, type=INPUT_PATH,
              help="Regions to leave out, burnt 255 (ignore) over every band after the "
              "labels: a vector file (polygons, reprojected as labels; --all-touched "
              "applies) or a one-band raster (nonzero pixels, nearest onto each image's "
              "grid; its nodata is kept); a folder or quoted pattern gives each IMAGE its "
              "own, paired as LABELS folders (a _UDM suffix left out). Repeatable.")
@_line_options
@labels_crs_opt
@creation_options_opt
@merge_opt
@json_opt
@overwrite_opt
@resume_opt
@cluster_opts
@click.pass_context
def make_masks(
    ctx, labels, images, output, class_field, class_map, all_touched, channels,
    boundary_width, contact_spacing, palette, layer, where, ignore, labels_crs,
    creation_options, as_json, overwrite, resume, workers, scheduler, merge, **line_args,
):
    """Rasterize LABELS (footprint polygons or a label raster) into one mask per IMAGE.

    The mask has exactly the grid of its image (width, height, transform, CRS),
    one uint8 band per channel: 0 background, 1 building (or 1..N class ids with
    --class-field). A pixel is burnt when its centre lies inside a polygon
    (--all-touched: when the polygon touches it). Where polygons overlap, the
    later feature in LABELS wins (a FlatGeobuf with a spatial index keeps them sorted by
    place, not as written: a warning says so where classes overlap; write it with -lco
    SPATIAL_INDEX=NO). Labels in another CRS are reprojected; invalid
    polygons are repaired, arcs (CurvePolygon, MultiSurface) linearised as GDAL
    does, Z and M ignored; points, which have no area, are left out with a
    warning (a file of points only is refused). LABELS is read once however
    many images are given.
    Where the image is nodata (nodata value, mask or alpha band, NaN in a float
    image) the mask is 255, declared as its nodata value, for losses to ignore.

    LABELS may be a folder (or a quoted pattern, 'labels/*.geojson') of vector label
    files, one per IMAGE, paired by name as evaluate pairs folders: tile_12.geojson with
    tile_12.tif, SpaceNet's buildings_AOI_2_Vegas_img1.geojson with
    RGB-PanSharpen_AOI_2_Vegas_img1.tif, xBD's labels/<name>.json with images/<name>.png,
    SpaceNet 8's annotations/<tile>.geojson with the <catid>_<tile>.tif of its
    PRE-event/ and POST-event/ folders, SpaceNet 4's spacenet-buildings_<tile>.geojson
    with Pan-Sharpen_Atlanta_nadir<N>_catid_<catid>_<tile>.tif of each collect;
    any container of one file too (tile_12.kmz, .geojsonl, .geojson.gz, .gpx, .tab,
    .gdb, a .zip or .shp.zip holding a Shapefile; a CSV is not taken). An IMAGE without
    its label file (or with two) is refused before anything is written; label files of no
    IMAGE are left alone. With --class-field names get ids 1..N from the names of all the
    paired files, the same in every mask.

    LABELS may be a COCO instances file (images, annotations, categories: CrowdAI's
    annotation.json, tile --annotations coco's): each IMAGE takes the entry whose
    file_name has its file name (folders apart), of its size, and its annotations in its
    own pixels (through its geotransform when it has one): polygons burnt as above, RLE
    masks exactly; iscrowd regions are 255 (ignored), later annotations win where they
    overlap; an entry without annotations is all background; an IMAGE the file does not
    list is refused before anything is written. One category is 1; several are 1..N by
    ascending category id, named by the categories (--class-map maps the names); a
    category only grouping others (Roboflow's category 0), unused, is none.

    LABELS may be a folder (or a quoted pattern, 'labels/*.txt') of Ultralytics YOLO
    segmentation labels (tile's labels/ holds vector files too: those are read): each
    IMAGE takes its stem's .txt, 'class x1 y1 x2 y2 ...' (or a box 'class cx cy w h') in
    fractions of its width and height, burnt as polygons are above; no .txt (or an empty
    one) is a negative image, all background. Class index i is id i + 1, named by the
    data.yaml in the labels' folder or up to 3 above (else class_0, class_1, ...).

    LABELS may be Labelme JSON files (shapes, imageHeight, imageWidth), one per IMAGE in a
    folder (or beside the images), paired by name as above (an IMAGE without its JSON is
    refused: Labelme saves one, shapes [], for an image without objects): shapes in the
    image's pixels (origin at its top-left corner), of its size, burnt by the pixel-centre
    rule (Labelme's own PIL export takes a vertex as a pixel's centre: the two differ on
    pixels along outlines only). polygon, rectangle, oriented_rectangle, circle (the
    pixels whose centre is inside it) and mask (its PNG exactly) are burnt, later shapes
    on top; line, linestrip, point and points are left out with a warning; one group_id
    and label make one instance. Labels get ids 1..N by sorted name over all the files
    (_background_ is 0, __ignore__ 255 as in Labelme's labelme2voc; --class-map maps the
    names); labels that read as numbers ("1", "3") are those ids, as a --class-field of
    numbers is.

    LABELS may be CVAT's XML export ("CVAT for images 1.1" annotations.xml): each IMAGE
    takes the <image> of its name (the one whose folders its path ends with, where several
    share it), of its width and height; polygon, box (rotation too), ellipse (the pixels
    whose centre is inside it) and mask (its pixels exactly) burnt as Labelme's shapes
    above, by z_order then in file order, later on top; polyline, points, skeleton,
    cuboid and tag are left out with a warning; one group_id and label make one instance.
    The labels <meta> declares are the classes (ids 1..N by sorted name; --class-map maps
    the names, attributes are not classes). "CVAT for video 1.1" files are refused.

    LABELS may be a VGG Image Annotator (VIA 1.x/2.x) JSON file (Export annotations (as
    json), a project file; Matterport Mask R-CNN's via_region_data.json), VIA's CSV export
    (Export annotations (as csv): told by its header; file_size tells twin names apart) or
    a VIA 3 project (image files only; video, audio and temporal segments refused): each
    IMAGE takes the entry of its file name (folders and URLs apart), regions in its pixels
    burnt as Labelme's: rect, polygon, circle and ellipse (exactly; VIA 3's extreme
    rectangle and circle too), later on top; polyline, line and point left out with a
    warning; an entry without regions is all background. The class is the regions' one
    attribute (several: --class-field NAME; a checkbox's one true option; VIA 3: an
    option's label, not its id); regions without one are class "object". Ids 1..N by
    sorted name over the file.

    LABELS may be Label Studio's JSON (or JSON_MIN) export: each IMAGE takes the task
    whose image URL has its file name (an upload's 8-hex-digit prefix aside), of its size
    (original_width, original_height), and its annotation (the ground-truth one, else its
    one not cancelled; predictions are never labels: a task without annotation is
    refused, one without regions is all background). Regions are in percent of the image:
    polygons, rectangles (turned too), ellipses (pixel centres inside), brush and
    BitMask masks (exactly their pixels of alpha > 0) are burnt as Labelme's shapes,
    classed by their one label;
    keypoints, polylines and choices are left out with a warning.

    LABELS may be a Labelbox export (export v2 NDJSON, one data row a line, read line
    by line; or the legacy JSON export v1): each IMAGE takes the data row whose
    external_id or global_key, or whose row_data URL's file name, is its file name,
    of its size (media_attributes), and its one label (among several, the benchmark reference;
    a row skipped or never labelled is refused, a label without objects is all
    background). Coordinates are the image's pixels (x right, y down from its
    top-left corner): polygons and bounding boxes burnt as Labelme's shapes, later on
    top; polylines and points left out with a warning; segmentation masks (URLs) are
    refused, never fetched. The class is the object's name (v1: title), not its value;
    classifications, nested ones too, are ignored (ids 1..N by sorted name; --class-map
    maps the names).

    LABELS may be Supervisely's format (DatasetNinja's downloads): a project folder
    (meta.json beside datasets of img/ and ann/), a dataset, its ann/ folder or one ann
    file: each IMAGE takes ann/<its file name>.json (its own dataset's), of its size.
    Points are whole pixels as Supervisely draws them: rectangles include their right
    and bottom pixels, polygons (holes too) and multipolygons' parts the pixels OpenCV
    fills and outlines, oriented boxes (angle in radians) the pixels OpenCV fills of
    their turned corners; bitmaps are burnt exactly, alpha masks where their opacity is
    above 0, later objects on top. All are whole
    pixels, their outlines' included: --all-touched burns just those. Lines, points
    and graphs are left out with a warning. The classes are meta.json's of an area
    shape, used or not (ids 1..N by sorted title; __ignore__ 255; --class-map maps the
    titles).

    LABELS may be V7's Darwin JSON (2.0 or 1.0): one file per image, a folder of them
    (subfolders too) or a quoted pattern: each IMAGE takes the file naming it (item name,
    source file, 1.0 filename; else its stem), of its slot's size; items of several slots
    or of video are refused. Polygons (their paths even-odd: holes and parts) are drawn
    as darwin-py's mask export draws them (vertices rounded to pixel centres, outlines
    included); bounding boxes and ellipses (angle in radians) by the pixel-centre rule;
    the raster layer's masks (dense_rle) exactly; lines, keypoints, tags, skeletons and
    cuboids are left out with a warning. Names are the classes (ids 1..N by sorted name;
    __ignore__ 255; --class-map maps the names).

    LABELS may be Datumaro JSON (CVAT's "Datumaro 1.0" export, Intel Geti's, datum
    export -f datumaro): an export's root, its annotations/ folder or one
    <subset>.json: each IMAGE takes the item whose image path has its file name (else
    whose id is its stem), of its size [h, w]. polygon, bbox (CVAT's rotation too),
    ellipse (pixel centres inside) and mask (its RLE exactly) are burnt as Labelme's
    shapes, by z_order then in file order; points, polylines, labels, captions,
    cuboids and skeletons are left out with a warning; one group and label make one
    instance. The categories' labels are the classes (ids 1..N by sorted name over
    every subset; __ignore__ 255; --class-map maps the names).

    LABELS may be DOTA's labelTxt (DOTA v1.0/1.5/2.0, FAIR1M's or mmrotate's DOTA-style
    files, "DOTA format" exports): a DOTA root (images/ and labelTxt/), its labelTxt
    folder, a quoted pattern of its .txt files or one file: each IMAGE takes the .txt of
    its stem (an IMAGE without one is refused; an empty file is all background). Lines
    'x1 y1 x2 y2 x3 y3 x4 y4 category difficult' (difficult may be left out; headers
    imagesource: and gsd: are skipped, gsd unused) are told from YOLO's by the first
    line. Corners are pixel centres, as DOTA_devkit takes them: the pixels whose centre
    is inside or on each quadrilateral are burnt, later on top; one crossing itself
    (corners out of order) is burnt as the box its corners outline, one of no area left
    out, each with a warning. Difficult objects are burnt as their class (evaluate
    ignores them). Ids 1..N by sorted category over every file of the folder.

    LABELS may be xView's xView_train.geojson: each IMAGE takes the boxes of the
    features whose image_id is its file name (bounds_imcoords 'x1,y1,x2,y2', box edges
    in its pixels; the features' lon/lat geometries, known to be off, are not read),
    burnt as pixels whose centre is inside, later on top; ids are the type_ids (11..94).
    An IMAGE no feature names is refused.

    LABELS may be a STAC label item (the label extension's: Radiant MLHub, Source
    Cooperative): its labels asset (role 'labels', beside the item) is read, never the
    item's footprint: GeoJSON classed by its one label:properties field, the names its
    label:classes declare taking ids 1..N by sorted name in every mask; a raster
    (label:type raster) as a label raster below, named by its classification:classes.
    Other STAC items (imagery) are refused.

    LABELS may be a STAC catalog (or collection) of label items: each IMAGE takes the
    label item whose rel="source" link leads to it (through the source item's
    data/visual/image assets, or to the image file itself): by resolved path, else by
    the same file name. Every item is read (rel item/child links, local files only);
    class ids are run-wide, from all items' label:classes. An IMAGE no label item names
    is refused before any mask is written.

    LABELS may be a label raster: class indices (one band; its class names from
    --class-map, else its GEOTILE_CLASS_NAMES tag; a mask of 0 and 255, INRIA's
    or Massachusetts', is 0/1, a few strays read as 1 from 128 up), one band
    per class (a one-hot of 0/1 or 0/255, DynamicEarthNet's: band k is id
    k - 1, as evaluate reads it, background unless --class-map names id 0;
    none or two 255) or RGB colours with --palette
    (class ids 1..K in palette order). It is aligned to each IMAGE's grid:
    copied exactly on the same grid, else nearest neighbour. Colours not in
    the palette, label nodata (and ids past 0 its names call no data, as
    CORINE's 48 'NODATA') and pixels outside the label raster become 255
    (declared nodata); unknown colours are reported with pixel counts. A
    folder of label rasters holding one named after each IMAGE (Potsdam's
    5_Labels_all/ for its _RGB tiles) gives each IMAGE its own.

    \b
    --json keys: labels, classes (names by id, 0 = background), masks [{image,
    output, features, positive_pixels, ignored_pixels, classes}] (from a label
    folder each mask also names its labels file, null for a YOLO negative
    image); from a label raster features is null and masks also hold
    unknown_pixels, class_pixels {class: pixels} and aligned ("copy" or
    "nearest").

    --ignore REGIONS marks regions no label may speak for (SpaceNet 7's UDM clouds,
    Sentinel-2 or Planet cloud masks, a city's unlabelled zones): 255 in every band,
    over any class, counted in ignored_pixels; each file (and each image's own, from a
    folder or pattern) is read and checked before any mask is written, and enters
    --resume's digest. A region outside an image changes nothing. A class raster such
    as Sentinel-2's SCL is reduced to one band of 0 and 1 first (gdal_calc.py).

    Open datasets are read as they ship: OpenStreetMap's .osm.pbf, Overture's
    release folder of Parquet parts (one dataset), Microsoft's .csv.gz and
    .geojsonl.zip, Google's Open Buildings CSV; OSM and any GeoParquet are
    read near the images only, and a file of several kinds (OSM's building and
    boundary, Overture's road and rail) is warned of naming the --where that
    keeps one. A Parquet file without GeoParquet metadata (DuckDB's COPY of
    Overture's rows) is read through its WKB geometry column, in the CRS its
    column type or its EWKB's SRID names, else in lon/lat with a warning
    (--labels-crs if not).

    \b
    Examples:
    $ geotile make-masks footprints.geojson tile.tif -o mask.tif
    $ geotile make-masks roofs.gpkg tiles/*.tif -o masks/ --class-field roof_type
    $ geotile make-masks footprints.geojson tile.tif -o mask.tif \\
          --channels footprint,boundary,contact
    $ geotile make-masks top_potsdam_2_10_label.tif top_potsdam_2_10_RGB.tif \\
          -o mask.tif --palette potsdam
    $ geotile make-masks roads.geojson tile.tif -o roads.tif --line-width 4
    $ geotile make-masks open_buildings.csv.gz tile.tif -o mask.tif \\
          --where "confidence >= 0.75"
    $ geotile make-masks city.osm.pbf tiles/ -o masks/ --layer multipolygons \\
          --where "building IS NOT NULL"
    $ geotile make-masks theme=buildings/type=building/ tiles/ -o masks/
    $ geotile make-masks footprints.geojson city/ -o masks/ --merge masks.vrt
    $ geotile make-masks geojson/buildings/ RGB-PanSharpen/ -o masks/
    $ geotile make-masks annotation.json images/ -o masks/
    $ geotile make-masks dataset/labels/train dataset/images/train -o masks/
    $ geotile make-masks labelme/ 'labelme/*.jpg' -o masks/
    $ geotile make-masks annotations.xml images/ -o masks/
    $ geotile make-masks via_region_data.json train/ -o masks/
    $ geotile make-masks via_export.csv train/ -o masks/
    $ geotile make-masks darwin/annotations/ images/ -o masks/
    $ geotile make-masks datumaro_export/ datumaro_export/images/train/ -o masks/
    $ geotile make-masks project-1-at-2026-01-05-10-30-3f2a1b9c.json images/ \\
          -o masks/
    $ geotile make-masks export-result.ndjson images/ -o masks/
    $ geotile make-masks project/ project/ds0/img -o masks/
    $ geotile make-masks DOTA/train/ DOTA/train/images/ -o masks/
    $ geotile make-masks sn7/labels/ sn7/images/ -o masks/ \\
          --ignore 'sn7/labels/*_UDM.geojson'

    An IMAGE may be a folder (its rasters) or a quoted pattern ('city/*.tif').
    A STAC Item of imagery (item.json) is masked on its bands' stack grid, its
    mask named after its id; a folder of Items (a downloaded search, or folders
    of them) is its Items, not their bands.
    """
    from geotile.input_files import expand_inputs

    images = expand_inputs(images, stac_items=True)  # a folder of Items: its Items
    import json

    from geotile.labels import read_class_map
    from geotile.masks import MaskOptions
    from geotile.masks import make_masks as run

    options = MaskOptions(
        channels=tuple(c.strip() for c in channels.split(",") if c.strip()),
        all_touched=all_touched,
        boundary_width=boundary_width,
        contact_spacing=contact_spacing,
        **line_args,
    )
    _refuse_unused_shape_options(ctx, options)
    mapping = None
    if class_map is not None:
        from geotile.stac_catalogs import is_catalog
        from geotile.stac_labels import label_item

        catalog = is_catalog(labels)  # its items' class fields: checked as they are paired
        item = None if catalog else label_item(labels)  # its labels file, its class field
        read = labels if item is None else item.labels
        if class_field is None and not catalog and not _is_label_raster(read) \
                and not _is_coco(read) \
                and _pixel_label_format(read, layer) is None \
                and (item is None or item.class_field(None) is None):
            raise click.UsageError("--class-map needs --class-field to say which field to map.")
        mapping = read_class_map(class_map, zero=class_field is None
                                 and _is_label_raster(read))  # its 0 may be a class
    check_resume(overwrite, resume)
    resumed = "make-masks" if resume else None  # replacing only make-masks' outputs
    pairs = resolve_outputs(images, output, overwrite or resume, protected=[labels],
                            resume=resumed)
    from geotile.output_files import check_outputs_kept, outputs_as_found

    ctx.with_resource(outputs_as_found(out for _, out in pairs))  # never mixed with another run
    replace_merge = check_merge(merge, pairs, overwrite, protected=[labels], resume=resumed,
                                input_folders=images.folders,
                                creation_options=creation_options, categorical=True)
    if workers or scheduler:
        from functools import partial

        from geotile.distributed import make_masks_on_cluster

        run = partial(make_masks_on_cluster, workers=workers, scheduler=scheduler)
    summaries = run(
        labels,
        [image for image, _ in pairs],
        [out for _, out in pairs],
        options=options,
        class_field=class_field,
        class_map=mapping,
        labels_crs=labels_crs,
        layer=layer,
        creation_options=creation_options,
        overwrite=overwrite,
        progress=ctx.obj["progress"],
        palette=palette,
        resume=resume,
        where=where,
        ignore=ignore or None,
    )
    check_outputs_kept()
    if as_json:
        click.echo(json.dumps({"labels": str(labels), "classes": summaries[0]["classes"],
                               "masks": summaries}, indent=2))
    elif not ctx.obj["quiet"]:
        from geotile.pixel_label_formats import (
            DOTA,
            LABELBOX,
            LABELME,
            LABELSTUDIO,
            NAMED_SHAPES,
            VIA,
        )

        kind = _pixel_label_format(labels, layer)
        why = "__ignore__ shapes or nodata in the image" if kind in NAMED_SHAPES else \
            "crowd regions or nodata in the image" if _is_coco(labels) else \
            "nodata in the image"
        if ignore:
            why = "--ignore regions, " + why
        for summary in summaries:
            if summary.get("skipped"):
                click.echo(f"{summary['output']}: complete from an earlier run, skipped "
                           "(--resume)")
                continue
            if summary.get("features") is None:  # from a label raster
                _echo_label_raster(summary)
                continue
            ignored = summary["ignored_pixels"]
            source = f" of {Path(summary['labels']).name}" if summary.get("labels") else ""
            if "labels" in summary and summary["labels"] is None:
                source = " (no label file: a negative image, all background)"
            n, pixels = summary["features"], summary["positive_pixels"]
            click.echo(
                f"{summary['output']}: {n} feature{'s' if n != 1 else ''}{source}, "
                f"{pixels} positive pixel{'s' if pixels != 1 else ''}"
                + (f", {ignored} ignored ({why})" if ignored else "")
            )
        if (class_field is not None or kind in (*NAMED_SHAPES, VIA)) and mapping is None:
            _echo_named_ids(summaries, kind == LABELME and not Path(str(labels)).is_file())
        if kind in (VIA, LABELSTUDIO, LABELBOX, DOTA):
            _echo_empty(summaries, labels)
        negatives = sum("labels" in s and s["labels"] is None for s in summaries)
        if negatives:
            click.echo(f"{negatives} of {len(summaries)} images have no .txt in {labels}: "
                       "negative images, all background (as Ultralytics trains on them)")
    write_merge(ctx, merge, pairs, replace_merge, as_json, creation_options)


def _echo_named_ids(summaries: list, own_files: bool = False) -> None:
    """The ids that class names got without --class-map (1..N by name, per run), so that a
    user making masks file by file sees them change with the names each file holds
    (``own_files``: a folder of each image's file, numbered over those of the images given,
    not every file's)."""
    from geotile.xbd import damage_map

    done = [s for s in summaries if s.get("features") is not None and s.get("classes")]
    names = done[0]["classes"][1:] if done else []
    if not names or all(str(n).isdigit() for n in names) or damage_map(names):
        return  # ids given by the field itself, or the xBD scale
    listed = ", ".join(f"{i} {name}" for i, name in enumerate(names, 1))
    held = "the label files of these images hold" if own_files else "these labels hold"
    click.echo(f"class ids by name: {listed} (from the names {held}; --class-map fixes them "
               "across runs)")


def _refuse_unused_shape_options(ctx, options) -> None:
    """UsageError for --boundary-width, --contact-spacing or --line-cap given without the
    band or the --line-width they shape (they would change nothing)."""
    needs = (("boundary_width", "boundary" in options.channels, "a boundary band "
              "(--channels ...,boundary)"),
             ("contact_spacing", "contact" in options.channels, "a contact band "
              "(--channels ...,contact)"),
             ("line_cap", options.line_width is not None, "--line-width (burnt lines)"))
    for name, used, what in needs:
        if given(ctx, name) and not used:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(f"{option} shapes {what} only, which this run does not "
                                   "make: leave it out.")


def _is_label_raster(labels) -> bool:
    from geotile.label_rasters import is_label_raster

    return is_label_raster(labels)


def _is_coco(labels) -> bool:
    from geotile.coco_labels import is_coco_file

    return is_coco_file(labels)


def _pixel_label_format(labels, layer) -> str | None:
    """Which reader of labels in each image's pixels LABELS go to (None: another)."""
    from geotile.pixel_label_formats import pixel_label_format

    return pixel_label_format(labels, layer)


def _echo_empty(summaries: list, labels) -> None:
    """How many images of a run of one file of many images' labels burn none (those
    --resume skipped aside)."""
    done = [s for s in summaries if not s.get("skipped")]
    empty = sum(s.get("features") == 0 for s in done)
    if empty:
        click.echo(f"{empty} of {len(done)} images have no region to burn in "
                   f"{Path(labels).name}: all background (negative images)")


def _echo_label_raster(summary: dict) -> None:
    ignored, unknown = summary["ignored_pixels"], summary["unknown_pixels"]
    click.echo(f"{summary['output']}: {summary['positive_pixels']} labelled pixels"
               + (f", {ignored} ignored" if ignored else "")
               + (f" ({unknown} of unknown colours)" if unknown else ""))
