"""`geotile tile`: cut images and masks into training patches with a manifest."""

from __future__ import annotations

import click

from geotile.cli.options import (
    INPUT_PATH,
    FloatRange,
    check_resume,
    class_map_opt,
    creation_options_opt,
    extra_bands_opts,
    home_callback,
    json_opt,
    labels_crs_opt,
    output_opt,
)


def _parse_split(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("give fractions like 0.8,0.1,0.1") from None


@click.command("tile", short_help="Cut images (+ masks) into patches with an index.csv.")
@click.argument("images", nargs=-1, required=True, type=INPUT_PATH)
@output_opt("Output folder, new or empty (or an earlier tile output, with --overwrite): "
            "receives images/, masks/, index.csv and .geotile-tile.json.")
@click.option("--masks", "masks", multiple=True, type=INPUT_PATH,
              help="Masks: a folder or a quoted pattern ('masks/*.tif') whose files are "
              "paired with the IMAGEs by name (<stem>.* or <stem>_mask.*; also -mask, "
              "_label, _lab, _label_noBoundary, _noBoundary, _gt, DFC2022's _UA2012, GeoNRW's "
              "_seg, GID's "
              "_15label and _24label, Chesapeake's _lc, OSCD's -cm (its 1 no change, 2 "
              "change read as 0, 1); an image's _sat, _RGB, _RGBIR, _IRRG, -ortho or "
              "_naip-new may be left out, as in DeepGlobe's "
              "104_sat.jpg / 104_mask.png, ISPRS Potsdam's _RGB.tif / _label.tif and "
              "DroneDeploy's -ortho.tif / -label.png; FLAIR's IMG_000001.tif pairs with "
              "MSK_000001.tif), or one file per IMAGE (repeat --masks; paired by name "
              "when each is named after an IMAGE, a scene's label file given for each of its "
              "_RGB and _IRRG; in order when none is; a partial match is refused). A "
              "folder of class folders (Agriculture-Vision's labels/<class>/<field>.png, "
              "binary masks named after the IMAGEs) is one 0/1 band per class, in folder "
              "name order (classes may overlap; a missing file is 0, with a warning); "
              "boundaries/ and masks/ beside it, if found, mark with 0 the pixels written "
              "255 in every band (-v says which were used). index.csv counts a pixel "
              "positive in any class.")
@click.option("--size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Patch size in pixels.")
@click.option("--overlap", type=FloatRange(min=0), default=0, show_default=True,
              help="Overlap between neighbouring patches: whole pixels (64) or a fraction "
              "of --size below 1 (0.25).")
@click.option("--edge", type=click.Choice(["shift", "pad", "drop"]), default="shift",
              show_default=True,
              help="Last patch of a row/column: shifted inside, padded (with the nodata "
              "value, marked invalid in the patch's mask band; mask patches with their nodata "
              "or 255, the ignore value, declared nodata, but a 0/255 mask, whose 255 is the "
              "building, with 0, marked only in a tif patch's mask band; --labels stop at the "
              "image's edge), or dropped.")
@click.option("--format", "fmt", type=click.Choice(["tif", "png", "npy"]), default="tif",
              show_default=True, help="Patch file format (tif keeps the georeference; "
              "png and npy mask patches hold a mask's no data, such as a declared nodata "
              "0, as 255).")
@click.option("--skip-empty", is_flag=True, help="Drop patches whose mask has no positive pixel.")
@click.option("--max-nodata", type=FloatRange(0, 1), default=None,
              help="Drop patches with a larger fraction of nodata pixels (an image left "
              "without patches, here or by --edge drop, is skipped with a warning).")
@click.option("--split", callback=_parse_split, metavar="TRAIN,VAL,TEST",
              help="Assign train/val/test splits by these fractions, e.g. 0.8,0.1,0.1, by "
              "spatial blocks of each image: patches that would share pixels with another "
              "split are left out (see below).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@extra_bands_opts
@click.option("--palette", metavar="NAME|FILE.json", callback=home_callback,
              help="The --masks are colour-coded label rasters (ISPRS 'potsdam', "
              "'deepglobe', 'uavid', 'dronedeploy', 'isaid', 'second', 'fbp', or a JSON "
              "palette as make-masks takes): class-id masks are made on each IMAGE's grid "
              "first (unknown colours 255, the ignore value).")
@click.option("--overwrite", is_flag=True,
              help="Replace the output of an earlier `geotile tile` in OUTPUT: only the files "
              "it wrote (listed in OUTPUT/.geotile-tile.json) are replaced, with the GDAL "
              "sidecars beside them (.aux.xml statistics, .ovr, .msk), files added to it "
              "since are kept as they are; a folder geotile did not write is refused.")
@click.option("--labels", "labels", type=INPUT_PATH,
              help="Vector labels: write each patch's labels clipped to it as GeoJSON in the "
              "patch's CRS, OUTPUT/labels/<patch>.geojson. Also a folder (or a quoted "
              "pattern) of label files, one per IMAGE, paired by name as make-masks pairs "
              "them (SpaceNet's buildings_AOI_2_Vegas_img1.geojson, xBD's labels/<name>.json, "
              "SpaceNet 7's <mosaic>_Buildings.geojson, tile_12.geojson): each image's "
              "patches get its own file's labels; an image without its file is refused.")
@click.option("--annotations", type=click.Choice(["coco", "yolo"]),
              help="With --labels: also write COCO instances (OUTPUT/annotations.json, pixel "
              "coordinates, image ids = index.csv row numbers) or YOLO-seg text files "
              "(OUTPUT/labels/<patch>.txt); with --split also one file per split "
              "(OUTPUT/annotations_train.json..., or the image lists OUTPUT/train.txt...). "
              "yolo also writes OUTPUT/data.yaml for Ultralytics (see below).")
@click.option("--min-area", type=FloatRange(min=0), default=0.0, show_default=True,
              help="With --labels: drop clipped parts smaller than this many pixels.")
@click.option("--class-field", metavar="FIELD",
              help="With --labels: attribute holding the class (name or id); names get "
              "the same ids in every image, a label folder's too, and the ids the --masks "
              "name them by (make-masks' class names), so that annotations and mask "
              "patches agree (a class they do not name is refused). Without it every "
              "feature is a 'building', with the masks' building id if they name one (else a "
              "warning where they name other classes).")
@class_map_opt('With --labels and --class-field: JSON file {"building": 1, ...} mapping the '
               'field\'s classes (names or ids, {"0": 1, "7": 2}) to ids 1..254, as make-masks '
               "takes it.")
@click.option("--layer", metavar="NAME",
              help="With --labels: layer to read when the file has several (GeoPackage...).")
@labels_crs_opt
@click.option("--resume", is_flag=True,
              help="Continue a run that was killed: images it finished are not cut again "
              "(after Ctrl-C only when that run had --resume too); an OUTPUT complete for "
              "the same options and inputs is left as it is, one of other options or inputs "
              "refused. Not with --overwrite.")
@creation_options_opt
@json_opt
@click.pass_context
def tile(ctx, images, output, masks, size, overlap, edge, fmt, skip_empty, max_nodata, split,
         seed, extra_bands, extra_resampling, overwrite, resume, creation_options, as_json,
         labels, annotations, min_area, class_field, class_map, layer, palette, labels_crs):
    """Cut IMAGEs (and their --masks) into patches for training.

    Writes OUTPUT/images/<stem>_<row>_<col>.<ext>, the matching
    OUTPUT/masks/... and OUTPUT/index.csv (one row per patch, with its pixel
    offsets, map bounds, positive and nodata fractions and split), the
    IMAGEs in file-name order whatever order they are given in (so are COCO
    ids and split lists). Image and mask patches come from the same
    windows. GeoTIFF patches keep the CRS and the window's transform. Mask
    patches stay lossless: lossy --co options (JPEG, WEBP, MAX_Z_ERROR...)
    reach the image patches only. With --edge
    shift (default) every pixel is covered and no patch is padded (unless
    the image is smaller than --size). Pixels that are not valid image data
    (nodata, masked, padding) are marked in the GeoTIFF patch: by its nodata
    value, or by a mask band where that cannot (read_masks/dataset_mask); the
    mask patch holds its ignore value there (255, as make-masks writes it; a
    0/255 mask, whose 255 is the building, as it is), not the class it says. A
    900 px SpaceNet tile gives 16 patches at --size 224 --edge drop and 25
    with --edge shift.

    --split assigns whole spatial blocks of patches to train, val or test:
    overlapping patches (--overlap, shifted edge patches) would otherwise
    put the same pixels in training and in evaluation. Blocks are as large
    as leave about 6 for the smallest split, at least 2 patches a side per
    overlapping neighbour. On small inputs without overlap they are single
    patches: a per-patch split, no spatial separation beyond the patch edge
    (below about 24 patch positions / the smallest fraction: 240 for
    0.8,0.1,0.1; one 1600 px scene at --size 256 has 49). Patches whose
    window reaches into a block of another split lie in the gap between the
    splits and are left out (counted in the summary), so no val or test
    patch shares a pixel with a train patch of the same image (blocks are
    planned per image: images that cover the same ground, as other dates or
    collects, are split independently, with a warning). The blocks are planned on the
    patches --skip-empty/--max-nodata keep, so the proportions of the kept
    patches stay within a few patches of those asked (a filtered run's
    splits differ from an unfiltered one's); the same --seed gives the same
    splits, in whatever order the IMAGEs are given (glob, list or folder).
    The proportions are balanced over all IMAGEs together: adding or
    removing an image may move blocks of the others to another split.

    With --annotations yolo (tif or png patches), OUTPUT/data.yaml is a
    dataset Ultralytics trains on as it is (`yolo segment train
    data=OUTPUT/data.yaml`, from any folder; it reads 8-bit patches only:
    none is written for 16-bit ones, with a warning): `channels` the bands
    of patches of other than 3 (RGB+NIR: 4; an alpha band left out),
    `names` {0: building, ...} as in labels/classes.txt, and `train`/`val`/`test` the split lists
    train.txt, val.txt, test.txt (a split without patches has no key), or
    images for each without --split. It has no `path` key, so Ultralytics
    takes its paths as relative to the YAML's folder: move or copy OUTPUT
    whole. A data.yaml geotile did not write is never replaced.

    \b
    Examples:
    $ geotile tile tile.tif --masks mask.tif --size 256 -o patches/
    $ geotile tile images/*.tif --masks masks/ --size 256 -o patches/
    $ geotile tile a.tif b.tif --masks a_mask.tif --masks b_mask.tif --size 224 \\
          --edge drop --skip-empty --split 0.8,0.1,0.1 --seed 42 -o patches/
    $ geotile tile top.tif --extra-bands ndsm.tif --masks mask.tif -o patches/

    An IMAGE without georeferencing (a plain JPEG/PNG) is cut in pixel
    coordinates, with one warning: index.csv bounds are pixels (x right, y
    down) and the patches carry no CRS. An IMAGE may be a folder (its rasters)
    or a quoted pattern ('city/*.tif'). A STAC Item of imagery (item.json) is
    its band assets stacked, its patches named after its id; a folder of Items
    (a downloaded search, or folders of them) is its Items, not their bands.
    Deliveries (SAFE, Landsat, HLS, Maxar .TIL, DIMAP, Planet) are read as
    predict reads them (see its --help); complex (SAR) pixels are refused.
    """
    from geotile.extra_bands import without_paired_images
    from geotile.input_files import expand_inputs

    images = expand_inputs(images, stac_items=True)  # a folder of Items: its Items
    images = without_paired_images(images, list(extra_bands))  # rtc/ --extra-bands rtc/
    import json

    from geotile.creation_options import parse_creation_options
    from geotile.tiling import TileOptions, tile_rasters

    options = TileOptions(size=size, overlap=overlap, edge=edge, fmt=fmt, skip_empty=skip_empty,
                          max_nodata=max_nodata, split=split, seed=seed,
                          creation_options=parse_creation_options(creation_options))
    check_resume(overwrite, resume)
    if annotations is not None and labels is None:
        raise click.UsageError("--annotations needs --labels")
    if labels_crs is not None and labels is None:
        raise click.UsageError("--labels-crs needs --labels (the CRS of their coordinates)")
    if layer is not None and labels is None:
        raise click.UsageError("--layer needs --labels (it names a layer of their file)")
    if class_map is not None and (labels is None or class_field is None):
        raise click.UsageError("--class-map needs --labels and --class-field (the field "
                               "whose classes it maps)")
    given = ctx.get_parameter_source("min_area") is not click.core.ParameterSource.DEFAULT
    for option, value in (("--min-area", given or None), ("--class-field", class_field)):
        if value is not None and labels is None:  # else ignored without a word
            raise click.UsageError(f"{option} needs --labels (it acts on their polygons)")
    annotate = None
    if labels is not None:
        from geotile.annotations import AnnotationOptions
        from geotile.labels import read_class_map

        mapping = read_class_map(class_map) if class_map is not None else None
        annotate = AnnotationOptions(labels, annotations, min_area, class_field, mapping,
                                     labels_crs=labels_crs, layer=layer)
    summary = tile_rasters(images, list(masks) or None, output, options=options,
                           overwrite=overwrite, progress=ctx.obj["progress"],
                           annotations=annotate, extra_bands=list(extra_bands) or None,
                           extra_resampling=extra_resampling, resume=resume, palette=palette)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    elif not ctx.obj["quiet"]:
        n = summary.written
        parts = [f"{n} patch{'es' if n != 1 else ''} -> {summary.outdir}"]
        if summary.skipped_empty:
            parts.append(f"{summary.skipped_empty} empty skipped")
        if summary.skipped_nodata:
            parts.append(f"{summary.skipped_nodata} mostly nodata skipped")
        if summary.excluded_gap:
            parts.append(f"{summary.excluded_gap} in the gaps between splits left out")
        if summary.skipped_images:
            n = len(summary.skipped_images)
            parts.append(f"{n} image{'s' if n > 1 else ''} without patches skipped")
        if summary.per_split:
            parts.append(", ".join(f"{k} {v}" for k, v in sorted(summary.per_split.items())))
        click.echo("; ".join(parts))

