"""Options shared by several commands (as rasterio's `rio/options.py`).

Who uses what:
- overwrite_opt: every command that writes (make-masks, tile, predict, vectorize, evaluate --report)
- creation_options_opt: commands writing GeoTIFFs (make-masks, predict)
- threshold_opt: predict (class output), vectorize (probability input)
- json_opt: evaluate (and any command printing a summary)
- labels_crs_opt: make-masks, tile (--labels); evaluate_labels_crs_opt: evaluate
- class_map_opt: make-masks, tile (--labels)
- merge_opt, check_merge, write_merge: predict, make-masks (--merge)
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave option ``name`` (command line or environment), not its default."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT,
                                                  ParameterSource.DEFAULT_MAP)


class FloatRange(click.FloatRange):
    """click.FloatRange refusing NaN, which passes its bounds (every comparison is false)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number is not None and number != number:
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


overwrite_opt = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace existing outputs."
)

resume_opt = click.option(
    "--resume", is_flag=True, default=False,
    help="Skip outputs complete from an earlier run with the same options and inputs "
    "(their GEOTILE_COMPLETE tag); redo the others, replacing only files this command "
    "wrote. "
    "Not with --overwrite.",
)


def check_resume(overwrite: bool, resume: bool) -> None:
    """--resume keeps finished outputs, --overwrite redoes them all: not both."""
    if overwrite and resume:
        raise click.UsageError("--resume and --overwrite exclude each other: --resume keeps "
                               "the outputs an earlier run finished, --overwrite redoes them "
                               "all. Give one.")


creation_options_opt = click.option(
    "--co",
    "creation_options",
    metavar="KEY=VALUE",
    multiple=True,
    help="GDAL GeoTIFF creation option, e.g. --co COMPRESS=ZSTD (repeatable).",
)

threshold_opt = click.option(
    "--threshold",
    type=FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Probability at or above which a pixel belongs to the class.",
)

json_opt = click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")

labels_crs_opt = click.option(
    "--labels-crs",
    metavar="CRS",
    default=None,
    help="CRS of the labels' coordinates when the file declares none or a wrong one "
    "(e.g. EPSG:32616), or 'pixels': each image's pixel coordinates (x right, y down from "
    "the top-left corner of its top-left pixel, as SpaceNet 7's labels_match_pix/), placed "
    "through the image's geotransform; one file per image (a label folder for many).",
)
#: evaluate's: it has no image to place pixel coordinates on
evaluate_labels_crs_opt = click.option(
    "--labels-crs",
    metavar="CRS",
    default=None,
    help="CRS of TRUTH's coordinates when the file declares none or a wrong one "
    "(e.g. EPSG:32616). Truth in an image's pixel coordinates ('pixels') is burnt with "
    "make-masks --labels-crs pixels first.",
)


def class_map_opt(help_text: str):
    """--class-map FILE.json: class names (or ids) of --class-field to ids 1..254."""
    return click.option("--class-map", type=HomePath(exists=True, dir_okay=False,
                                                     path_type=Path), help=help_text)


def expand_home(value):
    """A leading ``~`` or ``~user`` as the user's home folder, as the shell expands it
    where it can (``-o ~/x.tif``) but not quoted or after ``=`` (``--output=~/x.tif``): no
    folder literally named ``~`` is made, and no input is looked for in one."""
    if isinstance(value, str) and value.startswith("~"):
        return os.path.expanduser(value)
    return value


class HomePath(click.Path):
    """click.Path with a leading ``~`` expanded (see :func:`expand_home`)."""

    def convert(self, value, param, ctx):
        return super().convert(expand_home(value), param, ctx)


def home_callback(ctx, param, value):
    """A click callback expanding a leading ``~`` of an option that is not a path type
    (--palette potsdam|FILE.json)."""
    return expand_home(value)


class InputPath(click.ParamType):
    """A file to read: a local path (pathlib.Path), or a GDAL virtual or remote path
    (/vsizip/..., /vsicurl/https://..., s3://...) kept as the user wrote it (a Path would
    collapse its "//")."""

    name = "path"

    def convert(self, value, param, ctx):
        from geotile.input_paths import input_path

        return input_path(expand_home(value))


#: the type of every argument naming an input file
INPUT_PATH = InputPath()


class OutputPath(type(Path())):
    """A Path that remembers a trailing separator (``-o masks/``): the user meant a folder."""

    names_folder = False
    as_written = ""

    def __new__(cls, *args):
        self = super().__new__(cls, *args)
        self.names_folder = bool(args) and str(args[-1]).endswith(("/", os.sep))
        self.as_written = str(args[-1]) if args else ""
        return self


def extra_bands_opts(command):
    """--extra-bands and --extra-resampling (predict, tile): a second raster's bands stacked
    after the image's (geotile.extra_bands)."""
    command = click.option(
        "--extra-resampling",
        type=click.Choice(["auto", "bilinear", "nearest", "cubic", "average"]),
        default="auto", show_default=True,
        help="Resampling of --extra-bands onto the image grid. auto: nearest for a raster "
        "of classes (a colour table or class names), else bilinear; a model's further "
        "dates onto its --model-resolution grid as the image (predict).")(command)
    return click.option(
        "--extra-bands", "extra_bands", multiple=True, type=INPUT_PATH, metavar="RASTER",
        help="Stack the bands of RASTER (e.g. an nDSM) after the image's bands, read on the "
        "image grid (exactly when the grids match, else resampled or reprojected). One per "
        "IMAGE (repeat), or a folder (or a quoted pattern: DFC2022's "
        "'labeled_train/*/RGEALTI/*.tif') of rasters named after the IMAGEs (<stem>_ndsm.tif; "
        "ISPRS's dsm_potsdam_02_10.tif for top_potsdam_2_10_RGB.tif; Sentinel-1's "
        "<scene>_VH.tif for <scene>_VV.tif, _HV for _HH; LEVIR-CD's B/ for A/: the same "
        "names). predict: a change detection model of two inputs "
        "(x1/x2, pre/post, A/B) gets IMAGE as its first date, RASTER as its second; "
        "a multi-temporal one (a 5-D input [N,T,C,H,W] or [N,C,T,H,W]) gets IMAGE as "
        "date 1 and one --extra-bands per further date, in date order (a file each, or a "
        "folder each for several IMAGEs); --bands picks every date's bands. tile cuts "
        "such dates into patches of every date's bands, date after date (index.csv's "
        "dates column: their files as a JSON list).")(command)


def _local_output(ctx, param, value):
    """Outputs are local files (written beside their final name, then renamed into place):
    a GDAL virtual or cloud path is refused in one line, before any work."""
    import re

    # a drive letter ("C:/") is one letter; the Path has collapsed "s3://" to "s3:/"
    written = getattr(value, "as_written", "") or str(value)
    if value is not None and re.match(r"(/vsi|[A-Za-z][A-Za-z0-9+.-]+:/)", written):
        raise click.BadParameter(
            f"{written}: geotile writes local files (atomically, then renamed into place); "
            "write to a local path and copy it (e.g. `aws s3 cp`, `gcloud storage cp`).")
    if value is not None and re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", written) and \
            not os.path.isabs(written):  # 'file:x.tif', 's3:out/': GDAL would take a URL
        local = OutputPath(os.path.abspath(value) + (os.sep if value.names_folder else ""))
        local.as_written = written
        return local
    return value


#: click.option keywords of an output file besides -o (a local path, see _local_output)
LOCAL_FILE = {"type": HomePath(path_type=OutputPath), "callback": _local_output}


def output_opt(help_text: str):
    """The required -o/--output option (a local path)."""
    return click.option(
        "-o", "--output", required=True, type=HomePath(path_type=OutputPath),
        callback=_local_output, help=help_text
    )


def resolve_outputs(
    inputs: tuple[Path, ...] | list[Path], output: Path, overwrite: bool, suffix: str = ".tif",
    protected: tuple | list = (), resume: str | None = None,
) -> list[tuple[Path, Path]]:
    """Pair each input with its output: one input -> ``output`` is the file (named with
    ``suffix``; .tif also takes .tiff), unless it is a folder or ends with a separator;
    several -> ``output`` is a folder receiving ``<stem><suffix>`` per input.

    Existing outputs are refused here, before any work, unless ``overwrite``; with
    ``resume`` (the command resumed), those that command did not write
    (geotile.resume.plan would refuse them when reached); an output that is one of the
    inputs (or of ``protected``, e.g. the labels) is always refused.
    """
    from geotile.errors import InputError
    from geotile.input_paths import input_exists
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.output_files import GEOTIFF_SUFFIXES, check_geotiff_name, check_output

    missing = next((p for p in inputs if not input_exists(p)), None)
    if missing is not None:  # before any output is written
        raise InputError(f"{missing}: no such file. Check the path.")
    as_folder = output.is_dir() or getattr(output, "names_folder", False) \
        or str(output).endswith(("/", os.sep))
    if len(inputs) == 1 and not as_folder:
        folder = " (or end it with / for a folder)"
        if suffix.lower() in GEOTIFF_SUFFIXES:
            check_geotiff_name(output, folder)
        elif output.suffix.lower() != suffix.lower():
            raise InputError(f"{output}: the output is {suffix}; name it {suffix}{folder}.")
        pairs = [(inputs[0], Path(output))]
    else:
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: several inputs need a folder as output, not a file.")
        if not as_folder and output.suffix.lower() in (*GEOTIFF_SUFFIXES, suffix.lower()):
            raise InputError(f"{output}: {len(inputs)} inputs need a folder as output, and this "
                             f"names a {output.suffix} file. Give a folder (e.g. "
                             f"{output.with_suffix('')}/).")
        from collections import Counter

        from geotile.input_files import refuse_given_twice

        refuse_given_twice(inputs)
        duplicates = {s for s, n in Counter(map(_output_stem, inputs)).items() if n > 1}
        if duplicates:
            raise InputError(
                f"inputs share the file name {sorted(duplicates)[0]!r}: their outputs in "
                f"{output} would collide. Run them separately."
            )
        pairs = [(p, Path(output) / f"{_output_stem(p)}{suffix}") for p in inputs]
    refuse_overwriting_inputs([out for _, out in pairs], [*inputs, *protected])
    for _, out in pairs:
        check_output(out, overwrite)
    if resume:
        from geotile.resume import refuse_foreign

        refuse_foreign((out for _, out in pairs), resume)
    return pairs


def _output_stem(path) -> str:
    """The name of an input's output in a folder: a STAC Item's id, else its file's stem."""
    from geotile.image_stems import image_stem

    return image_stem(path)


def merge_opt(command):
    """--merge PATH (predict, make-masks): one mosaic of the outputs (geotile.merge)."""
    return click.option(
        "--merge", type=HomePath(path_type=OutputPath), callback=_local_output,
        metavar="PATH.vrt|PATH.tif",
        help="Also write one mosaic of the outputs (all on one pixel grid): a GDAL VRT "
        "(.vrt, referencing them) or a Cloud Optimised GeoTIFF (.tif); where outputs "
        "overlap, the later file name wins. --overwrite replaces it, --resume too when "
        "this command wrote it.")(command)


def check_merge(merge, pairs, overwrite: bool, protected=(), resume: str | None = None,
                input_folders=(), creation_options=None, dtype: str = "uint8",
                categorical: bool = False) -> bool:
    """--merge: refuse, before any work, a PATH that is an input or output, lies in the
    outputs' folder or in ``input_folders`` (those an IMAGE folder or pattern read), exists
    without --overwrite, or inputs whose grids cannot make one mosaic (outputs share them).
    A .tif mosaic is a COG written with ``creation_options`` (--co, of ``dtype`` pixels):
    the COG driver must take them. Whether an existing PATH is replaced: with --overwrite,
    or with --resume when that command (``resume``) wrote it."""
    if merge is None:
        return overwrite
    from geotile.merge import check_grid, check_merge_output
    from geotile.output_files import remove_temporaries
    from geotile.resume import read_tags, written_by

    if resume:  # what a run killed while writing the mosaic left beside it
        remove_temporaries(merge)
    replace = overwrite or bool(resume and merge.exists()
                                and written_by(read_tags(merge), resume))
    folders = {Path(out).parent.resolve() for _, out in pairs}
    where = Path(merge).parent.resolve()
    if (len(pairs) > 1 and where in folders) or where in input_folders:
        from geotile.errors import InputError

        which = "outputs'" if where in folders else "input"
        raise InputError(f"{merge}: write the mosaic beside the {which} folder, not in it "
                         "(a later run over that folder would read it as one more tile), "
                         f"e.g. --merge {Path(merge).parent.parent / Path(merge).name}.")
    from geotile.input_sources import files_read

    inputs = [image for image, _ in pairs]
    read = [f for given in (*inputs, *protected) for f in files_read(given)]
    check_merge_output(merge, [*read, *(out for _, out in pairs)], replace)
    check_grid(inputs, bands=False)
    if creation_options and Path(merge).suffix.lower() != ".vrt":
        from geotile.creation_options import check_creation_options, parse_creation_options
        from geotile.errors import InputError

        if not isinstance(creation_options, dict):
            creation_options = parse_creation_options(list(creation_options))
        try:
            check_creation_options(creation_options, dtype=dtype, cog=True,
                                   categorical=categorical)
        except InputError as exc:  # nothing else asked for a COG: say which file is one
            raise InputError(f"--merge {merge} (a .tif mosaic is a COG; a .vrt one takes any "
                             f"--co): {exc}") from None
    return replace


def write_merge(ctx, merge, pairs, replace: bool, as_json: bool,
                creation_options=None) -> None:
    """--merge: the mosaic of the written outputs (``replace``: from :func:`check_merge`),
    a COG compressed as ``creation_options`` (--co) say, as the outputs are."""
    if merge is None:
        return
    from geotile.creation_options import parse_creation_options
    from geotile.merge import merge_rasters

    if creation_options is not None and not isinstance(creation_options, dict):
        creation_options = parse_creation_options(list(creation_options))
    merged = merge_rasters([out for _, out in pairs], merge, overwrite=replace,
                           creation_options=creation_options)
    if not ctx.obj["quiet"] and not as_json:
        click.echo(f"{merge}: mosaic of {len(pairs)} outputs, {merged_grid(merged)}")


def merged_grid(path) -> str:
    """A merged raster's grid in words: '192 x 192 px of 0.5 x 0.5 m, EPSG:32616'."""
    from geotile.crs_names import crs_label, pixel_sides
    from geotile.raster import open_raster

    with open_raster(path) as src:
        size = "{:g} x {:g}".format(*pixel_sides(src.transform))
        if src.crs is None:
            return f"{src.width} x {src.height} px of {size}, no CRS"
        units = "m" if src.crs.linear_units in ("metre", "meter") else (
            "degrees" if src.crs.is_geographic else src.crs.linear_units)
        return f"{src.width} x {src.height} px of {size} {units}, {crs_label(src.crs)}"


def cluster_opts(func):
    """--workers N / --scheduler ADDRESS: one task per image on dask (geotile.distributed)."""
    func = click.option(
        "--scheduler", metavar="ADDRESS", default=None,
        help="Run the images on a running dask scheduler, e.g. tcp://host:8786; paths must "
        "be reachable from every worker, and each worker run this geotile (checked). Needs "
        "geotile[dask].")(func)
    return click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Run the images in parallel on a local dask cluster of N worker processes "
        "(predict: one model session each). Needs geotile[dask].")(func)
