"""Options shared by several commands (as rasterio's `rio/options.py`).

Who uses what:
- overwrite_opt: every command that writes (make-masks, tile, predict, vectorize, evaluate --report)
- creation_options_opt: commands writing GeoTIFFs (make-masks, predict)
- threshold_opt: predict (class output), vectorize (probability input)
- json_opt: evaluate (and any command printing a summary)
- labels_crs_opt: make-masks, evaluate
"""

from __future__ import annotations

from pathlib import Path

import click

overwrite_opt = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace existing outputs."
)

creation_options_opt = click.option(
    "--co",
    "creation_options",
    metavar="KEY=VALUE",
    multiple=True,
    help="GDAL GeoTIFF creation option, e.g. --co COMPRESS=ZSTD (repeatable).",
)

threshold_opt = click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
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
    "(e.g. EPSG:32616).",
)


class InputPath(click.ParamType):
    """A file to read: a local path (pathlib.Path), or a GDAL virtual or remote path
    (/vsizip/..., /vsicurl/https://..., s3://...) kept as the user wrote it (a Path would
    collapse its "//")."""

    name = "path"

    def convert(self, value, param, ctx):
        from geotile.raster import input_path

        return input_path(value)


#: the type of every argument naming an input file
INPUT_PATH = InputPath()


def output_opt(help_text: str):
    """The required -o/--output option."""
    return click.option(
        "-o", "--output", required=True, type=click.Path(path_type=Path), help=help_text
    )


def resolve_outputs(
    inputs: tuple[Path, ...] | list[Path], output: Path, overwrite: bool, suffix: str = ".tif"
) -> list[tuple[Path, Path]]:
    """Pair each input with its output: one input -> ``output`` is the file; several ->
    ``output`` is a folder receiving ``<stem><suffix>`` per input.

    Existing outputs are refused here, before any work, unless ``overwrite``.
    """
    from geotile.errors import InputError
    from geotile.raster import check_output

    if len(inputs) == 1 and not output.is_dir():
        pairs = [(inputs[0], output)]
    else:
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: several inputs need a folder as output, not a file.")
        stems = [Path(p).stem for p in inputs]
        duplicates = {s for s in stems if stems.count(s) > 1}
        if duplicates:
            raise InputError(
                f"inputs share the file name {sorted(duplicates)[0]!r}: their outputs in "
                f"{output} would collide. Run them separately."
            )
        pairs = [(p, output / f"{Path(p).stem}{suffix}") for p in inputs]
    for _, out in pairs:
        check_output(out, overwrite)
    return pairs
