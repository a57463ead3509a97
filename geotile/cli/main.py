"""The `geotile` Click group.

Commands are loaded lazily (their modules import only Click at module level),
so `geotile --help` stays instant. A :class:`GeotileError` raised by the
library becomes one line on stderr and exit status 1; Ctrl-C and SIGTERM
unwind through the atomic writers (removing temporary files) and exit 1 with
one line.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import warnings

import click

from geotile._version import __version__

#: command name -> "module:function"
COMMANDS = {
    "make-masks": "geotile.cli.make_masks:make_masks",
    "tile": "geotile.cli.tile:tile",
    "predict": "geotile.cli.predict:predict",
    "vectorize": "geotile.cli.vectorize:vectorize",
    "evaluate": "geotile.cli.evaluate:evaluate",
}


class GeotileGroup(click.Group):
    """A group that imports each command on first use and turns library errors into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context):
        from geotile.errors import GeotileError

        try:
            return super().invoke(ctx)
        except GeotileError as exc:
            raise click.ClickException(str(exc)) from exc


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("geotile")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"Warning: {message}", err=True)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@click.group(cls=GeotileGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="geotile")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress bars.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Tiling, ONNX segmentation inference and vectorisation for orthotiles.

    \b
    The pipeline, on a SpaceNet-style tile:
    $ geotile make-masks footprints.geojson tile.tif -o mask.tif
    $ geotile tile tile.tif --masks mask.tif --size 256 -o patches/
    $ geotile predict model.onnx tile.tif -o probabilities.tif
    $ geotile vectorize probabilities.tif -o buildings.geojson
    $ geotile evaluate buildings.geojson footprints.geojson
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    ctx.obj["progress"] = not quiet and sys.stderr.isatty()
    _configure_logging(verbose, quiet)
    if not verbose:
        warnings.showwarning = _show_warning


def main() -> None:
    """Console-script entry point."""
    import os

    # Commands stream by bands and write whole blocks; a small block cache keeps memory
    # independent of the raster's size (GDAL's default is 5% of RAM). Users may override.
    os.environ.setdefault("GDAL_CACHEMAX", "128")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    cli(prog_name="geotile")
