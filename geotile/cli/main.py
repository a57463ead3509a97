"""The `geotile` Click group.

Commands are loaded lazily (their modules import only Click at module level),
so `geotile --help` stays instant. A :class:`GeotileError` raised by the
library becomes one line on stderr and exit status 1; Ctrl-C and SIGTERM
unwind through the atomic writers (removing temporary files), say one line and
end the process by that signal (a shell's status 130, 143; a loop stops); a
closed stdout (`| head`) exits 141 quietly, as SIGPIPE would.
A warning is said when it is raised; the same advice for other files is kept back and
said once when the command ends (``19 more images (b.png, c.png, d.png, ...): ...``).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
import warnings

import click

from geotile._version import __version__
from geotile.gdal_settings import (
    READ_SETTINGS,
    check_proj_data,
    forced_settings,
    gdal_env,
)
from geotile.quiet_warnings import MEASURED

#: command name -> "module:function"
COMMANDS = {
    "make-masks": "geotile.cli.make_masks:make_masks",
    "tile": "geotile.cli.tile:tile",
    "predict": "geotile.cli.predict:predict",
    "vectorize": "geotile.cli.vectorize:vectorize",
    "evaluate": "geotile.cli.evaluate:evaluate",
}


#: set by :func:`main`: this process runs one command and ends (not a test's CliRunner or
#: a notebook), so what the command imports lives until the exit
_WHOLE_PROCESS: list[bool] = []
#: options of the group that are also accepted after the command name
_GROUP_FLAGS = {"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"}
#: GDAL settings for every command: commands stream by strips and write whole blocks, so a
#: small block cache keeps memory independent of the raster's size (GDAL's default is 5 %
#: of RAM). A JPEG whose data libjpeg finds corrupt is a read error, not noise decoded
#: silently. Scoped to the command with rasterio.Env; a user's own setting wins.
GDAL_SETTINGS = {"GDAL_CACHEMAX": 128 * 2**20,  # bytes: rasterio reads an int as bytes
                 **READ_SETTINGS}


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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Accept -v/-q after the command name too (`geotile predict -v ...`)."""
        ctx.meta["geotile.help"] = any(a in ("-h", "--help") for a in args)
        ctx.meta["geotile.args"] = list(args)  # as typed, for the memory advice
        return super().parse_args(ctx, hoist_group_flags(args))

    def invoke(self, ctx: click.Context):
        from geotile.errors import GeotileError, Interrupted, UsageError

        try:
            with _command_scope(ctx):
                return super().invoke(ctx)
        except UsageError as exc:
            raise _OneLineUsageError(f"{exc} (see '{ctx.command_path} "
                                     f"{ctx.invoked_subcommand} --help')") from None
        except Interrupted as exc:  # a writer's, raised from the KeyboardInterrupt: Ctrl-C
            raise _InterruptedExit(str(exc), _from_ctrl_c(exc)) from None
        except GeotileError as exc:
            if _SIGNALLED:  # a worker the group's signal ended, its parent's swallowed
                raise _InterruptedExit("interrupted; no output was left half-written."
                                       ) from None
            raise click.ClickException(str(exc)) from exc
        except click.UsageError as exc:
            raise _OneLineUsageError(_one_line_usage(exc)) from None
        except KeyboardInterrupt:
            raise _InterruptedExit("interrupted; no output was left half-written.", True
                                   ) from None
        except BrokenPipeError:  # stdout's reader left (`| head`): quiet, as SIGPIPE would be
            from click.utils import PacifyFlushWrapper

            sys.stdout = PacifyFlushWrapper(sys.stdout)  # no second error at exit's flush
            ctx.exit(141)
        except OSError as exc:  # full disk, read-only folder, ... outside the atomic writers
            from geotile.errors import write_advice

            where = exc.filename or "output"
            raise click.ClickException(
                f"{where}: {exc.strerror or exc}. {write_advice(exc)}") from exc
        except Warning as exc:  # raised as an error by the user's -W error/PYTHONWARNINGS
            raise click.ClickException(f"{exc} (a warning, made an error by "
                                       "PYTHONWARNINGS or python -W)") from exc
        except UnicodeEncodeError as exc:
            if sys.getfilesystemencoding().lower().replace("-", "") == "utf8":
                raise
            raise click.ClickException(_encoding_advice(exc)) from exc
        except (MemoryError, ValueError) as exc:
            if not isinstance(exc, MemoryError) and "array is too big" not in str(exc):
                raise
            raise click.ClickException(_memory_advice(exc, ctx.meta.get("geotile.args", []))) \
                from exc
        except Exception as exc:
            if _SIGNALLED:  # raised by the interrupt, wherever it landed
                raise _InterruptedExit("interrupted; no output was left half-written."
                                       ) from None
            if not _is_gdal_error(exc):
                raise
            # a GDAL failure no check foresaw: one line, never a traceback
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(f"GDAL: {message}") from exc


def _encoding_advice(exc: UnicodeEncodeError) -> str:
    """The one line for text this locale cannot encode (C/POSIX with PYTHONUTF8=0): a file
    name, whose bytes beyond ASCII (é, 東) Python holds as surrogates that rasterio and
    pyogrio cannot encode, or other text (a class name) written to an ASCII stream."""
    text = exc.object if isinstance(exc.object, str) else ""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    fix = "Run with PYTHONUTF8=1 or a UTF-8 locale (LC_ALL=C.UTF-8)."
    if "surrogate" in str(exc.reason):
        return (f"{text}: a file name beyond ASCII, which Python reads as "
                f"{sys.getfilesystemencoding()} in this locale (C/POSIX with PYTHONUTF8=0). "
                + fix)
    return (f"text beyond ASCII ({text[max(exc.start - 20, 0):exc.end + 20]!r}) cannot be "
            f"written as {exc.encoding} in this locale (C/POSIX with PYTHONUTF8=0). " + fix)


#: per command, the options that size its arrays (a typo there asks for exabytes)
_SIZING = {
    "tile": ("--size",),
    "predict": ("--tile-size", "--batch-size", "--block-size"),
    "make-masks": ("--boundary-width", "--contact-spacing", "--line-width"),
    "vectorize": ("--marker-erosion",),
}


def _memory_advice(exc: Exception, words: list[str]) -> str:
    """The one line for an allocation that failed: numpy's size, and the sizing options
    the user gave (else those the command has) to lower."""
    command = next((w for w in words if w in COMMANDS), "")
    options = _SIZING.get(command, ())
    typed = [f"{w} {words[i + 1]}" for i, w in enumerate(words[:-1]) if w in options]
    typed += [w for w in words if w.split("=")[0] in options and "=" in w]
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else "allocation failed"
    lower = ", ".join(typed) or ", ".join(options) or "the sizes asked for"
    return f"not enough memory ({what}): lower {lower}, or free memory."


def _is_gdal_error(exc: Exception) -> bool:
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    return isinstance(exc, (RasterioError, CPLE_BaseError))


def _from_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a KeyboardInterrupt was handled (however deep)."""
    while (exc := exc.__context__) is not None:
        if isinstance(exc, KeyboardInterrupt):
            return True
    return False


class _InterruptedExit(click.ClickException):
    """An interrupt: one line, exit status 128 + the signal's number (130 Ctrl-C, 143
    SIGTERM, 129 SIGHUP); the console process then ends by the signal itself
    (:func:`_end_by_the_signal`)."""

    def __init__(self, message: str, ctrl_c: bool = False) -> None:
        super().__init__(message)
        # no signal came (a scheduler that stopped answering): a failure, status 1; a
        # KeyboardInterrupt geotile's handler did not see (run from Python) is Ctrl-C's 130
        self.exit_code = (128 + _SIGNALLED[-1] if _SIGNALLED
                          else 128 + signal.SIGINT if ctrl_c else 1)


class _OneLineUsageError(click.ClickException):
    """Bad usage: one line, exit status 2 (Click's convention, as the CLI contract says)."""

    exit_code = 2


def _one_line_usage(exc: click.UsageError) -> str:
    """A usage error as one line, with where to read more instead of Click's usage
    block."""
    command = exc.ctx.command_path if exc.ctx is not None else "geotile"
    return f"{exc.format_message()} (see '{command} --help')"


def hoist_group_flags(args: list[str]) -> list[str]:
    """Move -v/-q given after the command name in front of it, where the group reads them."""
    for position, arg in enumerate(args):
        if arg == "--":
            return args
        if arg in COMMANDS:
            rest = args[position + 1 :]
            cut = rest.index("--") if "--" in rest else len(rest)
            flags = [a for a in rest[:cut] if a in _GROUP_FLAGS]
            others = [a for a in rest[:cut] if a not in _GROUP_FLAGS]
            return [*args[:position], *flags, arg, *others, *rest[cut:]]
    return args


@contextlib.contextmanager
def _command_scope(ctx: click.Context):
    """GDAL settings, warning display and log handlers for one command, restored after it
    (the library is used in notebooks and services: nothing leaks out of a command)."""
    with contextlib.ExitStack() as stack:
        if not ctx.meta.get("geotile.help"):
            from geotile.gc_pause import gc_paused

            # numpy's and rasterio's modules, thousands of objects kept to the exit: in a
            # process of its own (main()) the collector never walks them again
            with gc_paused():
                import rasterio  # noqa: F401 (imported here to be frozen)

                if _WHOLE_PROCESS:
                    gc.freeze()

            settings = {**{k: v for k, v in GDAL_SETTINGS.items() if k not in os.environ},
                        **forced_settings()}
            # inside an Env, GDAL/PROJ errors go to Python logging, not raw "ERROR 1:" lines
            stack.enter_context(gdal_env(settings))
            check_proj_data()
            from geotile.output_files import libtiff_errors_hidden

            stack.enter_context(libtiff_errors_hidden())
        stack.enter_context(warnings.catch_warnings())
        # GDAL's "HTTP response code on URL: 0" before a failed remote read: the error says it
        warnings.filterwarnings("ignore", "HTTP response code on ", RuntimeWarning)
        # affine 3's notice about its `*`, raised inside rasterio's own functions: not the
        # user's to act on, and under PYTHONWARNINGS=error it failed every command
        warnings.filterwarnings("ignore", "Use `@` matmul instead", PendingDeprecationWarning)
        # pyogrio's note at each look at a PolygonM layer: geotile drops M, as gdal_rasterize
        warnings.filterwarnings("ignore", MEASURED, UserWarning)
        logger = logging.getLogger("geotile")
        saved = (logger.handlers[:], logger.level, logger.propagate)
        stack.callback(_restore_logger, logger, saved)
        verbose, quiet = _flags(ctx)
        _configure_logging(verbose, quiet)
        if not verbose:  # said when the command ends, one line per advice (-v: each)
            from geotile.cli.warning_digest import Gathered

            gathered = Gathered(_say_warning)
            warnings.showwarning = gathered.show
            stack.callback(_say_the_rest, gathered)
        else:  # each as raised, in the same one line (not Python's file:line form)
            warnings.showwarning = _show_each
        if quiet:  # -q: only errors on stderr, as its help says
            warnings.simplefilter("ignore")
        yield


def _restore_logger(logger: logging.Logger, saved) -> None:
    logger.handlers[:], level, logger.propagate = saved[0], saved[1], saved[2]
    logger.setLevel(level)


def _flags(ctx: click.Context) -> tuple[int, bool]:
    return ctx.params.get("verbose", 0), ctx.params.get("quiet", False)


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


def _say_warning(text: str) -> None:
    click.echo(f"Warning: {text}", err=True)


def _show_each(message, category, filename, lineno, file=None, line=None) -> None:
    """A ``warnings.showwarning`` for -v: every warning, as "Warning: TEXT"."""
    _say_warning(str(message))


def _say_the_rest(gathered) -> None:
    """When the command ends: the advice kept back, one line for all the files it was given
    for after the first."""
    for text in gathered.rest():
        _say_warning(text)


class CtrlC(KeyboardInterrupt):
    """A signal geotile's console process reports as "interrupted" (exit status 128 + its
    number). Not KeyboardInterrupt itself: CPython marks the process as ended by Ctrl-C when
    a KeyboardInterrupt passes through code run by PyRun_String (as extension modules do),
    and then kills itself with SIGINT at exit, after the exit status was chosen (seen 8
    times in 80 under load)."""


class Terminated(CtrlC):
    """SIGTERM or SIGHUP, unwinding like Ctrl-C."""


#: signals received by this console process (SIGINT, SIGTERM, SIGHUP): an error that
#: surfaces after one is the interrupt's (a Ctrl-C inside an extension module's set-up can
#: come out as another exception)
_SIGNALLED: list[int] = []


def _raise_interrupt(signum, frame) -> None:
    _SIGNALLED.append(signum)
    raise Terminated


def _raise_ctrl_c(signum, frame) -> None:
    _SIGNALLED.append(signum)
    raise CtrlC


#: the most times a swallowed interrupt is delivered again (each time it lands in a
#: callback that swallows it: a loop's bound)
_REDELIVERIES = 1000


def _redeliver_swallowed(hook):
    """``sys.unraisablehook`` that delivers again a Ctrl-C or SIGTERM that a callback
    swallowed (the handler's exception raised while pyproj's C log callback ran Python:
    'Exception ignored in ... pyproj_log_function', the run went on and exited 0), from
    another thread a moment later: it then interrupts the command where it has gone on.
    Anything else goes to ``hook``."""
    def unraisable(info) -> None:
        if isinstance(info.exc_value, CtrlC) and _SIGNALLED and \
                len(_SIGNALLED) < _REDELIVERIES:
            import threading

            again = threading.Timer(0.01, os.kill, (os.getpid(), _SIGNALLED[-1]))
            again.daemon = True
            again.start()
            return
        hook(info)

    return unraisable


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


#: the signal this process ends by, once its command has unwound (see _end_by_the_signal)
_END_BY: list[int] = []


def _end_by_the_signal() -> None:
    """End the process by the signal that interrupted it, after the command unwound and
    said so: a shell tells a command a signal stopped only so (exit(130) reads as handled,
    and `for f in *.tif; do geotile ...; done` went on to the next file after Ctrl-C), as
    Python itself ends on an uncaught KeyboardInterrupt."""
    if not _END_BY:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(_END_BY[-1], signal.SIG_DFL)
    os.kill(os.getpid(), _END_BY[-1])


def main() -> None:
    """Console-script entry point."""
    # no command calls multi-threaded BLAS, and OpenBLAS's idle thread spins a core for
    # ~0.1 s after numpy loads, beside GDAL's and ONNX Runtime's threads; a user's value wins
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # dask's futures left unread by an interrupted --workers run can be collected after the
    # command's quiet spell (even at exit): asyncio's "Future exception was never retrieved"
    # is not the user's. geotile itself runs no asyncio; this process is the command's own
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    # SIGTERM and SIGHUP (a closed terminal) unwind like Ctrl-C: temporary files are removed
    # (an ignored one stays ignored: `nohup geotile ... &` outlives its terminal)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) is signal.SIG_DFL:
            signal.signal(getattr(signal, name), _raise_interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        signal.signal(signal.SIGINT, _raise_ctrl_c)
    sys.unraisablehook = _redeliver_swallowed(sys.unraisablehook)
    atexit.register(_end_by_the_signal)  # registered first: runs after every other
    _WHOLE_PROCESS.append(True)
    try:
        cli(prog_name="geotile")
    except SystemExit as exc:
        if _SIGNALLED and exc.code == 128 + _SIGNALLED[-1]:  # the interrupt's one line said
            _END_BY.append(_SIGNALLED[-1])
        raise
    finally:
        # the command has closed what it wrote; at exit the collector would walk every
        # object of the libraries imported (pandas' alone: ~0.15 s) only to free memory
        # the process gives back anyway. Exit handlers and flushing still run.
        gc.freeze()
