"""`geotile predict`: run an ONNX segmentation model over whole orthotiles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from geotile.cli.options import (
    INPUT_PATH,
    FloatRange,
    check_merge,
    check_resume,
    cluster_opts,
    creation_options_opt,
    extra_bands_opts,
    given,
    json_opt,
    merge_opt,
    output_opt,
    overwrite_opt,
    resolve_outputs,
    resume_opt,
    write_merge,
)
from geotile.streaming import DEFAULT_BLOCK_SIZE, MIN_BLOCK_SIZE, MIN_TILE_SIZE


def _floats(ctx, param, value):
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter("give numbers separated by commas, e.g. 0.485,0.456,0.406") \
            from None


def _overlap(ctx, param, value):
    if value is None:
        return None
    if not (0 <= value < 1 or value.is_integer()):  # NaN fails both
        raise click.BadParameter(f"{value:g} is neither a fraction below 1 of the tile "
                                 "(e.g. 0.25) nor whole pixels (e.g. 32).")
    return value


def _resolution(ctx, param, value):
    if value is None or value == "native":
        return value
    try:
        metres = float(value)
    except ValueError:
        raise click.BadParameter("give metres per pixel, e.g. 0.3, or native") from None
    if not metres > 0 or metres == float("inf"):
        raise click.BadParameter("give metres per pixel (> 0), or native")
    return metres


def _bands(ctx, param, value):
    if value is None:
        return None
    from geotile.errors import InputError
    from geotile.predict import parse_bands

    try:
        return parse_bands(value)
    except InputError as exc:
        raise click.BadParameter(str(exc).removeprefix("--bands: ")) from None


@click.command("predict", short_help="Run an ONNX model over whole images, blended windows.")
@click.argument("model", type=INPUT_PATH)
@click.argument("images", nargs=-1, required=True, type=INPUT_PATH)
@output_opt("Output .tif for one IMAGE; a folder receiving <stem>.tif for several.")
@click.option("--tile-size", type=click.IntRange(min=MIN_TILE_SIZE), default=None,
              help="Window size in px. Default: the model's fixed size, else its metadata, "
              "else 512.")
@click.option("--overlap", type=FloatRange(min=0), default=None, callback=_overlap,
              help="Overlap of neighbouring windows: px (>= 1) or a fraction of the tile "
              "(< 1). Default: the model's metadata, else 0.25.")
@click.option("--blend", type=click.Choice(["bilinear", "hann", "uniform"]), default="bilinear",
              show_default=True, help="Weight window for blending overlapping predictions.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Windows per model run. Default: 0.5 MP of windows on CPU (2 of 512 px, "
              "8 of 256 px; memory follows it, speed does not), 1 MP on a GPU (16 of 256 px).")
@click.option("--providers", type=click.Choice(["auto", "tensorrt", "cuda", "cpu"]),
              default="auto", show_default=True,
              help="ONNX Runtime execution provider; auto takes the best that loads.")
@click.option("--fp16", is_flag=True, help="Run a float16 copy of the model (GPU providers).")
@click.option("--tta", type=click.Choice(["none", "flip", "d4"]), default="none",
              show_default=True,
              help="Test-time augmentation: each window is also run mirrored left-right "
              "and upside down (flip: 3 runs), or turned by quarter turns and mirrored (d4: 8 "
              "runs), and the outputs, turned back, are averaged as written: probabilities "
              "(after the activation; softmax classes still sum to 1), or raw values.")
@click.option("--bands", callback=_bands, metavar="LIST",
              help="Raster bands fed to the model, in order: numbers, e.g. 1,2,3 or 1,1,1, "
              "ranges of them, e.g. 1-50,60-120 (a hyperspectral image's), "
              "or names of their descriptions (a STAC Item's band names or common names), "
              "e.g. B04,B03,B02 or red,green,blue. "
              "Default: all but an alpha band (only named here is it fed). Red, green, "
              "blue stay in that order for a model said to take BGR (a Hugging Face "
              "processor's do_flip_channel_order, MMDeploy's or the metadata's to_rgb "
              "false): geotile flips them.")
@click.option("--mean", callback=_floats, metavar="LIST",
              help="Per-channel mean (after --scale). Default: the model's metadata, else "
              "an MLM item's value_scaling, else image_mean of a Hugging Face "
              "preprocessor_config.json beside it, else "
              "the Normalize mean of MMDeploy's pipeline.json, else of PaddleSeg's "
              "deploy.yaml or PaddleRS' model.yml beside it, else Raster Vision's "
              "learner-config.json, else TerraTorch's config.yaml (data means/stds), else "
              "that of smp's config.json encoder (or an "
              "albumentations_config_eval.json Normalize) beside it, else 0.")
@click.option("--std", callback=_floats, metavar="LIST",
              help="Per-channel std (after --scale). Default: the model's metadata, else "
              "an MLM item's value_scaling, else image_std of a Hugging Face "
              "preprocessor_config.json beside it, else "
              "the Normalize std of MMDeploy's pipeline.json, else of PaddleSeg's "
              "deploy.yaml or PaddleRS' model.yml beside it, else Raster Vision's "
              "learner-config.json, else TerraTorch's config.yaml (data means/stds), else "
              "that of smp's config.json encoder (or an "
              "albumentations_config_eval.json Normalize) beside it, else 1.")
@click.option("--scale", type=float, default=None,
              help="Multiply pixels by this first. Default: 1/255 for uint8 (1 when a mean "
              "or std above 1 for the image's channels, given by --mean/--std or read from the "
              "metadata, the exporter's files beside the model or the model's first ops, shows "
              "they are for 0..255 pixels, or the model divides its input by 255 itself), "
              "else 1; where the metadata declares no mean/std, an MLM item's "
              "value_scaling (1: raw pixels), a Hugging Face "
              "preprocessor_config.json's rescale_factor other than 1/255 (1 if its "
              "do_rescale is false), an MMDeploy Normalize of 0..255 pixels (1 for uint8), "
              "Raster Vision's learner-config.json (unsigned pixels / their type's "
              "maximum) and TerraTorch's config.yaml constant_scale (any type) decide "
              "it (not read when --mean and --std are both given, but for "
              "constant_scale).")
@click.option("--output-type", type=click.Choice(["probability", "class"]),
              default="probability", show_default=True,
              help="probability: one band per class (see --dtype). class: one uint8 band of "
              "class ids (0 background, nodata 255) with a colour table and category names: "
              "the argmax of softmax classes, else --threshold's rule; refused for "
              "footprint/boundary/contact models (vectorize their probabilities).")
@click.option("--threshold", type=FloatRange(0, 1), default=None,
              help="Class output of a one-class or multi-label (sigmoid) model: a class where "
              "p >= threshold, the most probable one, else background (a first channel "
              "named background is background too; refused for exclusive "
              "softmax classes: their argmax); probability output: declared for vectorize and "
              "evaluate. Default: the model's seg_thresh, else 0.5.")
@click.option("--dtype", type=click.Choice(["float32", "uint8"]), default="float32",
              show_default=True, help="Probability output: float32 (the model's values, "
              "exact) or uint8 (p x 255 with GDAL scale 1/255: a quarter of the size).")
@click.option("--activation", type=click.Choice(["auto", "none", "sigmoid", "softmax"]),
              default="auto", show_default=True,
              help="Applied to the model's outputs. auto: none when the model ends in "
              "Sigmoid/Softmax or has Deepness model_type, else sigmoid (1 channel) or softmax; "
              "none writes the raw values as float32, unclipped; sigmoid/softmax are refused "
              "for an output that ends in one already.")
@click.option("--outputs", "model_outputs", metavar="NAMES",
              help="Model outputs to write, by name, comma-separated (default: all, in order; "
                   "an auxiliary head's, torchvision's aux or UperNet's auxiliary_logits, left "
                   "out when it and its main head, out or logits, are the only outputs, or "
                   "that of a dynamo export's aux_classifier/auxiliary_head module).")
@click.option("--model-resolution", callback=_resolution, metavar="M|native",
              help="The model's pixel size in metres: windows are read resampled to it and the "
              "result written back on the image grid. Default: the model's resolution "
              "metadata; native: never resample.")
@extra_bands_opts
@click.option("--mosaic", is_flag=True,
              help="The IMAGEs are adjacent tiles on one pixel grid: predict them as one "
              "seamless surface (windows read across file edges), one output per tile. The "
              "tiles are read at their own pixel size: one differing from the model's "
              "(--model-resolution, its metadata) is refused (resample the tiles first, or "
              "give native); tiles (or STAC Items, side by side) naming their bands in different "
              "orders are refused; no --extra-bands; one process (no --workers/--scheduler).")
@click.option("--block-size", type=click.IntRange(min=MIN_BLOCK_SIZE), default=DEFAULT_BLOCK_SIZE,
              show_default=True,
              help="Width in px of the vertical strips an image is predicted in: memory "
              "follows it (and the tile size), never the image's width.")
@click.option("--cog", is_flag=True, help="Write a Cloud Optimised GeoTIFF.")
@merge_opt
@creation_options_opt
@overwrite_opt
@resume_opt
@cluster_opts
@json_opt
@click.pass_context
def predict(ctx, model, images, output, tile_size, overlap, blend, batch_size, providers, fp16,
            tta, bands, mean, std, scale, output_type, threshold, dtype, activation, model_outputs,
            model_resolution, extra_bands, extra_resampling, mosaic, block_size, cog,
            creation_options, overwrite, resume, workers, scheduler, as_json, merge):
    """Run MODEL (ONNX, an Esri .dlpk holding one, or a STAC MLM item.json naming
    one) over each IMAGE with overlapping, blended windows.

    The output has exactly the image's grid. By default it holds one float32
    band per class (per output channel), the model's values; --dtype uint8
    writes probability x 255 (scale 1/255), --output-type class writes class
    ids with a colour table and category names. Nodata input
    pixels are nodata in the output (float32 NaN; uint8 0 under an internal
    mask; class ids 255): where every band fed to the model (with
    --bands, those chosen) is nodata by its value, mask or alpha, or where
    one float band is NaN or at its own nodata value; with --mosaic or
    --model-resolution too. Pixels where the --extra-bands raster is nodata or
    that it does not reach are nodata too. Input layout (NCHW/NHWC), tile size,
    class names and normalisation are read from the model and its metadata,
    else from a STAC MLM item (.json) beside it whose mlm:model asset it is
    (value_scaling per band, clips included, of raw pixels; bands by the image's
    band descriptions, or colour interpretation; classification:classes and
    their color_hint; regression written raw), else (normalisation, class
    names) from Hugging Face's preprocessor_config.json
    and config.json beside it (an Optimum export: rescale_factor, image_mean,
    image_std, id2label, do_flip_channel_order: R,G,B flipped to B,G,R for the
    model; -v names the file and key), or above its onnx/ folder
    (transformers.js' layout), else (normalisation) from MMDeploy's
    pipeline.json beside it (an OpenMMLab/mmseg export: its Normalize mean and
    std, of 0..255 pixels, in B,G,R order when to_rgb is false: R,G,B flipped
    to B,G,R for the model, as for metadata saying to_rgb false) and
    (class names) detail.json, when a model_cfg with the classes is added to
    it (MMDeploy's names only the config's file), else from PaddleSeg's
    deploy.yaml or PaddleRS' model.yml beside it (a
    paddle2onnx export: its Normalize, PaddleSeg's default mean and std 0.5
    of pixels / 255 when it gives none; PaddleX's model.yml TransformsMode BGR:
    R,G,B flipped to B,G,R) and (class names) model.yml's
    _Attributes labels or the dataset's label.txt / labels.txt beside it,
    else from Raster Vision's learner-config.json (its model-bundle.zip), else
    from TerraTorch's config.yaml (constant_scale, means, stds, bands, class_names),
    else from Esri's .emd beside it or in the .dlpk (NormalizationStats,
    ExtractBands as --bands, Classes and their Color, ImageHeight as
    --tile-size), else (normalisation) from segmentation_models_pytorch's
    config.json beside it (save_pretrained: its encoder's preprocessing, ImageNet's mean/std for
    most; an albumentations_config_eval.json Normalize first);
    options override them. A mask classification model's class and mask
    queries (MaskFormer, Mask2Former, OneFormer) are combined into class
    scores as transformers' post-processing does.
    Several IMAGEs share one model session.

    \b
    Examples:
    $ geotile predict unet.onnx tile.tif -o probabilities.tif
    $ geotile predict unet.onnx tiles/*.tif -o predictions/ --tta flip \\
          --batch-size 16
    $ geotile predict unet.onnx spacenet_pan.tif --bands 1,1,1 \\
          --scale 0.0005 -o buildings.tif --output-type class
    $ geotile predict rgb_ndsm.onnx top.tif --extra-bands ndsm.tif \\
          -o classes.tif --output-type class
    $ geotile predict siamese.onnx test/A --extra-bands test/B \\
          -o change/ --output-type class
    $ geotile predict prithvi_crops.onnx march.tif --extra-bands \\
          june.tif --extra-bands sept.tif -o crops.tif --output-type class
    $ geotile predict unet.onnx tiles/*.tif -o predictions/ --mosaic
    $ geotile predict unet.onnx S2A_MSIL2A_20240601_T32TQM/item.json \\
          --bands B04,B03,B02 -o s2.tif

    An IMAGE without georeferencing (a plain JPEG/PNG) is predicted in pixel
    coordinates, with one warning; the output then carries no CRS.

    An IMAGE may be a folder (its rasters) or a quoted pattern ('city/*.tif').

    An IMAGE may be a STAC Item of imagery (item.json of a Sentinel-2 or
    Landsat scene whose bands are separate assets): its raster data assets
    that list their bands (eo:bands / bands; roles thumbnail, overview, visual,
    metadata and masks' left out unless also data, and a true-colour asset
    repeating single-band ones; SCL, AOT and WVP list none) are read as one
    stack, a band
    per asset band in the item's order, described by its band name (B04) and
    common name (red): --bands B04,B03,B02 or red,green,blue picks them. The
    stack is on the finest asset's grid, coarser bands (20 m, 60 m) resampled
    nearest; assets in different CRSs or extents are refused. hrefs are
    relative to the item, remote ones read through GDAL's /vsicurl/ (/vsis3/,
    /vsigs/). Outputs in a folder are named after the item's id; a folder of
    items (or of their folders) is predicted item by item.

    Deliveries are read as products, declaring the nodata, scale and offset
    their metadata give: a Sentinel-2 SAFE subdataset or band file (its MTD),
    a Landsat band file beside its MTL or in its archive, an HLS band file, a
    Maxar .TIL or DIMAP DIM_*.XML / METADATA.DIM (its tiles one image), a
    PlanetScope or SkySat folder (udm2 left out; a PSScene's clouds warned
    of). A
    gdaltindex index, complex (SAR) pixels and NetCDF/Zarr time steps are
    refused naming the command that makes an image of them.
    """
    from geotile.input_files import expand_inputs, refuse_geotile_outputs
    from geotile.model import OnnxModel
    from geotile.model_file import local_model_path

    model = local_model_path(model)  # a remote one before any work (or cluster) starts
    from geotile.errors import ModelError
    from geotile.model_formats import not_onnx

    if other := not_onnx(model):  # a checkpoint, a SavedModel...: before any output is made
        raise ModelError(other)
    images = expand_inputs(images, stac_items=True)
    from geotile.extra_bands import without_paired_images

    images = without_paired_images(images, list(extra_bands))  # rtc/ --extra-bands rtc/
    refuse_geotile_outputs(images, "predict")
    from geotile.creation_options import parse_creation_options
    from geotile.extra_bands import pair_extra_bands
    from geotile.mosaic import open_mosaic
    from geotile.output_files import (
        check_outputs_kept,
        check_sidecar_room,
        outputs_as_found,
    )
    from geotile.predict import PredictOptions, predict_raster, refuse_mosaic_dates

    options = PredictOptions(tile_size=tile_size, overlap=overlap, blend=blend,
                             batch_size=batch_size, tta=tta, bands=bands,
                             output_type=output_type, threshold=threshold, dtype=dtype, cog=cog,
                             merge_cog=merge is not None and Path(merge).suffix.lower() != ".vrt",
                             creation_options=parse_creation_options(creation_options),
                             model_resolution=model_resolution, block_size=block_size)
    check_resume(overwrite, resume)
    if output_type == "class" and given(ctx, "dtype"):
        raise click.UsageError("--dtype sets the type of probability output; class output is "
                               "always uint8 class ids: leave out --dtype.")
    if mosaic and extra_bands:
        raise click.UsageError(
            "--mosaic cannot be combined with --extra-bands (further dates or bands): mosaic "
            "each one's tiles into one raster (gdalbuildvrt date1.vrt <its tiles>) and "
            "predict those without --mosaic.")
    if mosaic and (workers or scheduler):
        raise click.UsageError("--mosaic runs in one process: leave out --workers/--scheduler.")
    extras = pair_extra_bands(images, extra_bands, dates=True) or [None] * len(images)
    read = [path for extra in extras if extra is not None  # inputs too: never replaced
            for path in ([extra] if isinstance(extra, str | os.PathLike) else extra)]
    resumed = "predict" if resume else None  # replacing only predict's outputs
    pairs = resolve_outputs(images, output, overwrite or resume, protected=read,
                            resume=resumed)
    ctx.with_resource(outputs_as_found(out for _, out in pairs))  # never mixed with another run
    # before --merge's grid check, whose way out ("leave out --merge") --mosaic would refuse
    grid = open_mosaic([image for image, _ in pairs], disjoint=True, alternative=(
        "or predict without --mosaic" + (" and --merge" if merge else ""))) if mosaic else None
    classes = output_type == "class"
    if classes:  # each output's class names: refused before the first image's inference
        for _, out in pairs:
            check_sidecar_room(out)
    replace_merge = check_merge(merge, pairs, overwrite, protected=[model, *read],
                                resume=resumed, input_folders=images.folders,
                                creation_options=options.creation_options,
                                dtype="uint8" if classes else dtype, categorical=classes)
    model_options = {"providers": providers, "fp16": fp16, "mean": mean, "std": std,
                     "scale": scale, "activation": activation, "outputs": model_outputs}
    if (workers or scheduler) and (len(pairs) > 1 or output_type == "class"):
        # as in one process: a batch fails before its first image, not at the one that
        # does not fit (after hours of the cluster's work); the model's inputs, on the CPU
        checker = OnnxModel.from_path(model, **{**model_options, "providers": "cpu",
                                                "fp16": False}, threads=1,
                                      tile_size=tile_size, batch_size=1)
        _check_all_bands(checker, options, pairs, extras)
        _check_class_output(checker, options)
        del checker
    if workers or scheduler:
        from geotile.distributed import predict_rasters

        summaries = predict_rasters(
            model, [image for image, _ in pairs], [out for _, out in pairs], options=options,
            model_options=model_options,
            workers=workers, scheduler=scheduler, overwrite=overwrite, resume=resume,
            extra_bands=extras, extra_resampling=extra_resampling,
            progress=ctx.obj["progress"])
        for summary in summaries:
            _report(ctx, summary, as_json)
        check_outputs_kept()  # what the workers wrote, as they left it
        if as_json:
            click.echo(json.dumps(summaries, indent=2))
        write_merge(ctx, merge, pairs, replace_merge, as_json, options.creation_options)
        return
    onnx_model = OnnxModel.from_path(model, providers=providers, fp16=fp16, mean=mean, std=std,
                                     scale=scale, activation=activation, outputs=model_outputs,
                                     tile_size=tile_size, batch_size=batch_size or 1)
    if ctx.obj["verbose"]:
        click.echo(onnx_model.describe(), err=True)
    _check_class_output(onnx_model, options)
    if grid is not None:  # a multi-temporal model's further dates: no --extra-bands
        refuse_mosaic_dates(onnx_model, pairs[0][0])
    if len(pairs) > 1:  # a batch fails before its first image, not at the one that does not fit
        _check_all_bands(onnx_model, options, pairs, extras, pixels=True)
    summaries = []
    for (image, out), extra in zip(pairs, extras, strict=True):
        summary = predict_raster(onnx_model, image, out, options=options, overwrite=overwrite,
                                 progress=ctx.obj["progress"], extra_bands=extra,
                                 extra_resampling=extra_resampling, resume=resume,
                                 mosaic=grid)
        summaries.append(summary)
        _report(ctx, summary, as_json)
    check_outputs_kept()
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
    write_merge(ctx, merge, pairs, replace_merge, as_json, options.creation_options)


def _check_all_bands(model, options, pairs, extras, pixels: bool = False) -> None:
    """Every image's bands against the model, and what else its header refuses
    (refuse_unpredictable), before any is predicted; ``pixels``: a damaged or truncated
    image too (its first and last blocks read)."""
    from geotile.date_ranges import check_date_ranges, date_range
    from geotile.extra_bands import (
        check_date_colours,
        check_date_names,
        check_date_types,
        check_date_values,
        check_two_files,
        picked_bands,
        two_dates,
    )
    from geotile.input_bands import every_date_bands, model_view, select_bands
    from geotile.input_range import warn_one_scale_over_types
    from geotile.model_pixel import refuse_complex, refuse_unpredictable
    from geotile.predict import several_dates
    from geotile.raster import check_pixels_readable, common_dtype, open_raster

    typed = []
    for (image, _), paths in zip(pairs, extras, strict=True):
        paths = several_dates(model, paths)
        paths = [] if paths is None else [paths] if isinstance(paths, str | os.PathLike) \
            else paths
        dates = []  # (path, band numbers, types, declared values) of each further date
        with open_raster(image) as raw:  # a further date's: the image's
            bands = every_date_bands(model, raw, options.bands, image)
        for extra in paths:
            with open_raster(extra) as more:
                numbers = picked_bands(more, bands, extra) if bands else range(
                    1, more.count + 1)
                dates.append((extra, numbers, [more.dtypes[i - 1] for i in numbers],
                              [(more.scales[i - 1], more.offsets[i - 1]) for i in numbers]))
                refuse_complex(common_dtype(more), extra, "the --extra-bands raster's ")
        added = sum(len(numbers) for _, numbers, _, _ in dates)
        source = " + ".join([str(image), *(Path(p).name for p in paths)])
        with open_raster(image) as raw, model_view(raw, model, added) as src:
            if pixels:
                check_pixels_readable(raw)
            refuse_unpredictable(model, raw, src, options, image)
            if getattr(model, "dates", None) is not None:
                model.take_dates(1 + len(dates), len(dates[0][1]) if dates else len(
                    options.bands or range(src.count)), source)
            indexes = select_bands(model, src, options, added, source)
            typed.append((Path(image).name, common_dtype(src, indexes)))
            if dates:  # the image's uint8 scale from its channels, then every date
                model.image_channels(len(indexes))
            for number, (extra, numbers, extra_types, extra_values) in enumerate(dates, 2):
                check_date_types(model, [src.dtypes[i - 1] for i in indexes], extra_types,
                                 image, extra, number)
                check_date_values(model, [(src.scales[i - 1], src.offsets[i - 1])
                                          for i in indexes], extra_values, image, extra,
                                  number)
                check_two_files(model, image, extra)
                with open_raster(extra) as more:
                    check_date_colours(model, src, indexes, more, numbers, image, extra,
                                       number)
                    check_date_names(model, src, indexes, more, numbers, image, extra)
                if two_dates(model):  # as fed: after the image's uint8 scale is known
                    with open_raster(extra) as more:
                        check_date_ranges(model, date_range(model, src, indexes),
                                          date_range(model, more, numbers), image, extra,
                                          number)
    warn_one_scale_over_types(model, typed)


def _check_class_output(model, options) -> None:
    """Class output the model cannot give (ModelError), and a --threshold it would not apply
    (exclusive classes: their argmax), a usage error."""
    from geotile.class_output import check_class_output, class_threshold
    from geotile.errors import InputError

    if options.output_type != "class":
        return
    check_class_output(model)
    try:
        class_threshold(model, options, 0.5)
    except InputError as exc:
        raise click.UsageError(str(exc)) from None


def _report(ctx, summary: dict, as_json: bool) -> None:
    if summary.get("skipped") and not ctx.obj["quiet"] and not as_json:
        click.echo(f"{summary['output']}: complete from an earlier run, skipped (--resume)")
    elif not ctx.obj["quiet"] and not as_json:
        click.echo(f"{summary['output']}: {summary['megapixels']} MP in "
                   f"{summary['seconds']} s ({summary['mp_per_s']} MP/s, "
                   f"{summary['provider']})")
