"""The Click group: version, lazy command loading, error conversion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geotile import __version__
from geotile.cli.main import COMMANDS, cli


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_every_command_is_importable_and_documented():
    for name in COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None, name
        assert "$ geotile" in (command.help or ""), f"{name} --help has no example"


def test_help_lists_all_commands(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_python_dash_m_runs_and_help_stays_light():
    # `geotile --help` must not import the heavy libraries (start-up time matters).
    code = (
        "import sys, runpy; sys.argv=['geotile','--help'];"
        "\ntry:\n    runpy.run_module('geotile', run_name='__main__')\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('rasterio', 'geopandas', 'onnxruntime', 'numpy') if m in sys.modules]"
        "\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "make-masks" in out.stdout
    assert "HEAVY []" in out.stdout


def test_public_api_names_resolve():
    import geotile

    for name in geotile.__all__:
        assert getattr(geotile, name) is not None, name


def test_every_option_and_command_has_help_text():
    import click

    from geotile.cli.main import cli

    # the commands load lazily: cli.commands alone is empty, which hid predict --output-type
    commands = {name: cli.get_command(None, name) for name in COMMANDS}
    assert set(commands) == {"make-masks", "tile", "predict", "vectorize", "evaluate"}
    missing = [f"{name} {'/'.join(p.opts)}" for name, command in commands.items()
               for p in command.params
               if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
    missing += [name for name, command in commands.items() if not command.help]
    assert missing == []


@pytest.mark.parametrize("args", [
    ["tile", "x.tif"],  # missing -o
    ["predict", "--bogus"],
    ["nosuch"],
    ["tile", "x.tif", "-o", "out", "--size", "abc"],
])
def test_usage_errors_are_one_line_and_exit_2(run_cli, args):
    result = run_cli(*args)
    assert result.exit_code == 2  # bad usage: Click's convention, in one line
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--help" in lines[0]


def test_an_unforeseen_gdal_error_is_one_line(run_cli, make_raster, tmp_path, monkeypatch):
    import numpy as np
    from rasterio._err import CPLE_AppDefinedError

    import geotile.vectorize

    def failing(*args, **kwargs):
        raise CPLE_AppDefinedError(1, 1, "TIFFReadEncodedTile() failed.\nsecond line")

    monkeypatch.setattr(geotile.vectorize, "vectorize_polygons", failing)
    raster = make_raster("c.tif", np.ones((8, 8), np.uint8))
    result = run_cli("vectorize", raster, "-o", tmp_path / "v.gpkg")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: GDAL: TIFFReadEncodedTile() failed."


def test_an_interrupted_error_without_a_signal_exits_1(run_cli, make_raster, monkeypatch):
    """A dask scheduler that stopped answering (Interrupted raised where no signal came)
    exited 130, which scripts and SLURM read as Ctrl-C: a failure is status 1."""
    import numpy as np

    import geotile.vectorize
    from geotile.errors import Interrupted

    def failing(*args, **kwargs):
        raise Interrupted("the run's scheduler did not answer; nothing was published")

    monkeypatch.setattr(geotile.vectorize, "vectorize_polygons", failing)
    raster = make_raster("c.tif", np.ones((8, 8), np.uint8))
    result = run_cli("vectorize", raster, "-o", raster.parent / "v.gpkg")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == ("Error: the run's scheduler did not answer; nothing was "
                                     "published")


def test_a_ctrl_c_without_geotiles_handler_still_exits_130(run_cli, make_raster, monkeypatch):
    """A KeyboardInterrupt is Ctrl-C even where geotile's handler did not see it (the command
    run from Python, a notebook's interrupt): after 5fa1ca5 it exited 1, a failure."""
    import numpy as np

    import geotile.vectorize

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(geotile.vectorize, "vectorize_polygons", interrupted)
    raster = make_raster("c.tif", np.ones((8, 8), np.uint8))
    result = run_cli("vectorize", raster, "-o", raster.parent / "v.gpkg")
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr


def test_gdal_block_cache_is_128_megabytes_not_128_bytes():
    """rasterio takes an int GDAL_CACHEMAX as bytes: 128 made rasterize 10x slower."""
    import rasterio
    from rasterio._env import get_gdal_config

    from geotile.cli.main import GDAL_SETTINGS

    with rasterio.Env(**GDAL_SETTINGS):
        assert get_gdal_config("GDAL_CACHEMAX") == 128 * 2**20


def test_the_console_entry_point_keeps_openblas_to_one_thread_unless_the_user_set_it():
    def threads(env_value):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if env_value is not None:
            env["OPENBLAS_NUM_THREADS"] = env_value
        code = ("import sys, geotile.cli.main as m, os; sys.argv = ['geotile', '--version']\n"
                "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
                "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout
        return out.strip().splitlines()[-1]

    assert threads(None) == "1"
    assert threads("3") == "3"


def test_an_unread_dask_future_collected_after_the_command_prints_nothing():
    """dask's futures left unread when a --workers run is interrupted under load are
    collected after the command's own quiet spell: asyncio logged 'Future exception was
    never retrieved ... TimeoutError' (3 lines) above geotile's one 'interrupted' line."""
    code = (
        "import asyncio, sys, geotile.cli.main as m\n"
        "def command(prog_name):\n"
        "    loop = asyncio.new_event_loop()\n"
        "    future = loop.create_future()\n"
        "    future.set_exception(TimeoutError('Timeout'))\n"
        "    print('Error: interrupted', file=sys.stderr)\n"
        "    raise SystemExit(1)\n"
        "m.cli = command\n"
        "m.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["Error: interrupted"], done.stderr


def test_an_error_raised_by_a_ctrl_c_mid_import_is_still_the_one_interrupted_line(make_raster,
                                                                                 tmp_path):
    """Ctrl-C landing while vectorize imported geopandas (in ssl's C module set-up) came out as
    'TypeError: expected a message argument' and a 60-line traceback (a CI run of the
    vectorize Ctrl-C test): an exception surfacing after a Ctrl-C is the interrupt's."""
    import numpy as np

    raster = make_raster("p.tif", np.ones((8, 8), np.float32))
    lines = _vectorize_interrupted(raster, tmp_path, (
        "def polygonize(*args, **kwargs):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(5)\n"
        "    except KeyboardInterrupt:\n"
        "        raise TypeError('expected a message argument')\n"))
    assert lines[0].startswith("Error: interrupted")


def _vectorize_interrupted(raster, tmp_path, polygonize: str) -> list[str]:
    """stderr's lines of `geotile vectorize RASTER -o v.gpkg` run as its console script
    with vectorize_modes.vectorize_rasters replaced by the ``polygonize`` defined in that
    source (os, signal, time, vm imported), after checking it ended by SIGINT with one."""
    code = ("import os, signal, sys, time, geotile.cli.main as m, "
            "geotile.vectorize_modes as vm\n"
            f"real = vm.vectorize_rasters\n{polygonize}"
            "vm.vectorize_rasters = polygonize\n"
            f"sys.argv = ['geotile', 'vectorize', {str(raster)!r}, '-o', "
            f"{str(tmp_path / 'v.gpkg')!r}]\n"
            "m.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == -signal.SIGINT, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines


def test_a_ctrl_c_that_passed_through_an_extension_module_ends_by_sigint(make_raster, tmp_path):
    """An interrupted `vectorize --workers 2` printed its one 'interrupted' line and then
    was killed by SIGINT in 1 run of 12: CPython kills itself with SIGINT at exit once a
    plain KeyboardInterrupt has passed through code an extension module ran by PyRun_String.
    A reported Ctrl-C ends the process by SIGINT (a shell's 130), every time."""
    import numpy as np

    raster = make_raster("p.tif", np.ones((8, 8), np.float32))
    code = (
        "import ctypes, sys, geotile.cli.main as m, geotile.vectorize_modes as vm\n"
        "run = ctypes.pythonapi.PyRun_String\n"
        "run.restype = ctypes.py_object\n"
        "run.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object]\n"
        "def polygonize(*args, **kwargs):\n"
        "    run(b'import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\n'\n"
        "        b'time.sleep(5)\\n', 257, {}, {})\n"
        "vm.vectorize_rasters = polygonize\n"
        f"sys.argv = ['geotile', 'vectorize', {str(raster)!r}, '-o', "
        f"{str(tmp_path / 'v.gpkg')!r}]\n"
        "m.main()\n")
    (tmp_path / "ctrl_c_run.py").write_text(code)  # run as geotile is: python -m
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root])}
    done = subprocess.run([sys.executable, "-m", "ctrl_c_run"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == -signal.SIGINT, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), done.stderr
    assert not (tmp_path / "v.gpkg").exists()


def test_a_closed_stdout_is_no_disk_problem(make_raster, tmp_path):
    """`geotile predict ... | head -c 0`: the summary line met a closed pipe after the raster
    was published, and exit 1 said 'output: Broken pipe. Free space or choose another output
    folder.' It now exits quietly with 141 (as a tool killed by SIGPIPE), the raster kept."""
    import numpy as np
    import rasterio

    from .onnx_models import pointwise_model, pointwise_reference

    pixels = np.random.default_rng(2).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    image = make_raster("img.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "o.tif"
    read, write = os.pipe()
    os.close(read)  # the reader is gone before geotile writes its line
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    try:
        done = subprocess.run([sys.executable, "-m", "geotile", "predict", str(model),
                               str(image), "-o", str(out), "--dtype", "float32"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
                              env=env)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr.strip() == ""
    with rasterio.open(out) as dst:
        values = dst.read(1)
    expected = pointwise_reference(pixels[np.newaxis].astype(np.float64) / 255)[0, 0]
    np.testing.assert_allclose(values, expected, atol=1e-5)


@pytest.mark.parametrize("args, option", [
    (("tile", "{img}", "-o", "{tmp}/patches", "--size", "1000000000"), "--size"),
    (("tile", "{img}", "-o", "{tmp}/patches", "--size", "10000000000"), "--size"),
    (("make-masks", "{labels}", "{img}", "-o", "{tmp}/m.tif", "--channels",
      "footprint,boundary", "--boundary-width", "1000000000"), "--boundary-width"),
    (("predict", "{model}", "{img}", "-o", "{tmp}/p.tif", "--batch-size", "1000000000"),
     "--batch-size"),
])
def test_a_size_too_large_for_memory_is_one_line_naming_it(run_cli, make_raster, tmp_path,
                                                            args, option):
    """--size 1000000000 (a typo) asked numpy for 2.6 EiB: a MemoryError traceback."""
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import box

    from tests.conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
    from tests.onnx_models import pointwise_model

    img = make_raster("img.tif", np.full((3, 40, 50), 7, np.uint8))
    x, y = UTM_ORIGIN
    labels = tmp_path / "l.geojson"
    gpd.GeoDataFrame(geometry=[box(x + 2, y - 10, x + 10, y - 2)], crs=UTM_CRS).to_file(labels)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, classes=1, activation="sigmoid")
    values = {"img": img, "labels": labels, "model": model, "tmp": tmp_path}
    result = run_cli(*(a.format(**values) for a in args))
    assert_one_line_error(result, "not enough memory", option)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["img.tif", "l.geojson", "m.onnx"]


HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n"


@pytest.mark.parametrize("content,said", [(b"", "the file is empty (0 bytes)"),
                                          (HTML_PAGE, "the file is a web page (HTML)")])
@pytest.mark.parametrize("bad", ["image", "labels", "model", "prediction"])
def test_an_empty_file_or_a_saved_error_page_is_called_a_failed_download(
        run_cli, make_raster, tmp_path, content, said, bad):
    """What a failed wget or curl leaves under the expected name: 'not a raster GDAL can read
    (... not recognized as being in a supported file format.)', 'not vector data GDAL can
    read (Expecting value: line 1 column 1 (char 0))', 'not an ONNX model ... Export it with
    torch.onnx'; now each says what the file is and to download it again."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
    from .onnx_models import pointwise_model

    x, y = UTM_ORIGIN
    image = make_raster("img.tif", np.zeros((3, 32, 32), np.uint8))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(x + 1, y - 6, x + 6, y - 1)],
                     crs=UTM_CRS).to_file(labels)
    model = pointwise_model(tmp_path / "m.onnx")
    target = {"image": image, "labels": labels, "model": model, "prediction": image}[bad]
    target.write_bytes(content)
    args = {"image": ("make-masks", labels, image, "-o", tmp_path / "out.tif"),
            "labels": ("make-masks", labels, image, "-o", tmp_path / "out.tif"),
            "model": ("predict", model, image, "-o", tmp_path / "out.tif"),
            "prediction": ("vectorize", image, "-o", tmp_path / "out.geojson")}[bad]
    assert_one_line_error(run_cli(*args), f"{target}: {said}", "again")
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_80_columns_without_breaking_an_option_name(command):
    """Examples and text of `COMMAND -h` on an 80-column terminal: no line wider, and no
    option name cut at its hyphen (--class-/map)."""
    import re

    from geotile.cli.main import cli

    from .conftest import cli_runner

    # Click wraps at the terminal's width less 2 (CliRunner alone would force 80)
    result = cli_runner().invoke(cli, [command, "-h"], terminal_width=78)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    assert [line for line in lines if re.search(r"--[a-z]+-$", line)] == []


def _geotile(args, cwd, **env):
    """geotile run as users run it (python -m geotile), with ``env`` added."""
    return subprocess.run([sys.executable, "-m", "geotile", *map(str, args)], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]),
                               **env}, capture_output=True, text=True, timeout=120)


def test_every_command_runs_under_pythonwarnings_error(tmp_path):
    """PYTHONWARNINGS=error (as some CI jobs set it) failed make-masks, tile and vectorize
    with a traceback: affine 3's PendingDeprecationWarning for its `*` operator, raised
    in geotile's own code and inside rasterio's. geotile no longer uses the operator and
    the commands ignore that notice from rasterio: outputs equal a plain run's."""
    import json

    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    image = tmp_path / "scene.tif"
    with rasterio.open(image, "w", driver="GTiff", width=96, height=96, count=3,
                       dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(500_000, 4_000_000, 0.5, 0.5)) as dst:
        dst.write(np.full((3, 96, 96), 90, np.uint8))
    square = [[500_010, 3_999_990], [500_020, 3_999_990], [500_020, 3_999_980],
              [500_010, 3_999_980], [500_010, 3_999_990]]
    (tmp_path / "labels.geojson").write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": [{"type": "Feature", "properties": {},
                      "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    for mode in ("plain", "error"):
        env = {"PYTHONWARNINGS": "error"} if mode == "error" else {}
        steps = [["make-masks", "labels.geojson", image, "-o", f"{mode}_mask.tif"],
                 ["tile", image, "--masks", f"{mode}_mask.tif", "--size", "32",
                  "-o", f"{mode}_patches"],
                 ["vectorize", f"{mode}_mask.tif", "-o", f"{mode}.geojson"],
                 ["evaluate", f"{mode}.geojson", "labels.geojson", "--json"]]
        for args in steps:
            done = _geotile(args, tmp_path, **env)
            assert done.returncode == 0, (mode, args, done.stderr)
            assert "Traceback" not in done.stderr
    with rasterio.open(tmp_path / "plain_mask.tif") as a, \
            rasterio.open(tmp_path / "error_mask.tif") as b:
        assert np.array_equal(a.read(), b.read()) and a.read().sum() == 400
    assert sorted(p.name for p in (tmp_path / "error_patches").rglob("*.tif")) == \
        sorted(p.name for p in (tmp_path / "plain_patches").rglob("*.tif"))
    written = (tmp_path / "error.geojson").read_text().replace("error", "plain")
    assert written == (tmp_path / "plain.geojson").read_text()


def test_a_warning_made_an_error_by_the_user_is_one_line_exit_1(tmp_path):
    """Under PYTHONWARNINGS=error a geotile warning (labels that miss the image) became a
    traceback; now one line, exit 1, and no mask left behind."""
    import json

    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(tmp_path / "scene.tif", "w", driver="GTiff", width=32, height=32,
                       count=1, dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(500_000, 4_000_000, 0.5, 0.5)) as dst:
        dst.write(np.zeros((1, 32, 32), np.uint8))
    far = [[600_000, 3_000_000], [600_010, 3_000_000], [600_010, 3_000_010],
           [600_000, 3_000_000]]
    (tmp_path / "far.geojson").write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": [{"type": "Feature", "properties": {},
                      "geometry": {"type": "Polygon", "coordinates": [far]}}]}))
    done = _geotile(["make-masks", "far.geojson", "scene.tif", "-o", "mask.tif"], tmp_path,
                    PYTHONWARNINGS="error")
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "far.geojson: no feature overlaps scene.tif" in lines[0]
    assert "made an error by PYTHONWARNINGS" in lines[0]
    assert not (tmp_path / "mask.tif").exists()


def test_proj_data_of_another_proj_or_of_none_is_one_line_naming_the_variable(make_raster,
                                                                            tmp_path):
    """PROJ_DATA or PROJ_LIB left by a conda, QGIS or OSGeo4W set-up, pointing rasterio's
    PROJ at another PROJ's data or at no proj.db: make-masks said the labels' EPSG:4326 was
    "not a CRS GDAL knows. Give e.g. EPSG:32633", vectorize ended in a CRSError traceback."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from .conftest import UTM_CRS, UTM_ORIGIN

    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    labels = tmp_path / "labels.geojson"
    x, y = UTM_ORIGIN
    gpd.GeoDataFrame(geometry=[shapely.box(x + 1, y - 6, x + 6, y - 1)],
                     crs=UTM_CRS).to_crs("EPSG:4326").to_file(labels)
    (tmp_path / "proj").mkdir()
    for name, value in (("PROJ_DATA", tmp_path / "proj"), ("PROJ_LIB", tmp_path / "none")):
        env = {k: v for k, v in os.environ.items() if k not in ("PROJ_DATA", "PROJ_LIB")}
        env[name] = str(value)
        for command in (["make-masks", labels, image, "-o", tmp_path / "mask.tif"],
                        ["vectorize", image, "-o", tmp_path / "out.gpkg"]):
            done = subprocess.run([sys.executable, "-m", "geotile", *map(str, command)],
                                  env=env, capture_output=True, text=True)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 1 and len(lines) == 1, done.stderr
            assert lines[0].startswith(f"Error: {name}={value}: ") and \
                "Cannot find proj.db" in lines[0] and "Unset PROJ_DATA and PROJ_LIB" in lines[0]
            assert not (tmp_path / "mask.tif").exists() and not (tmp_path / "out.gpkg").exists()
        code = ("import sys, geotile\ntry:\n    geotile.make_masks(sys.argv[1], [sys.argv[2]], "
                "[sys.argv[3]])\nexcept geotile.GeotileError as exc:\n    print(exc)")
        done = subprocess.run([sys.executable, "-c", code, str(labels), str(image),
                               str(tmp_path / "mask.tif")], env=env, capture_output=True,
                              text=True)
        assert done.stdout.startswith(f"{name}={value}: "), done.stdout + done.stderr


def test_a_non_ascii_file_name_in_the_c_locale_without_utf8_mode_is_one_line(tmp_path,
                                                                              make_raster):
    """LC_ALL=C/POSIX with PYTHONUTF8=0 (a cron job, a container without locales): Python
    reads file names as ASCII (the bytes of é as surrogates), which GDAL cannot be given: a
    UnicodeEncodeError traceback from rasterio.open -> one line naming the file and the fix;
    nothing written."""
    image = make_raster("東京_é.tif", np.zeros((3, 64, 64), np.uint8))
    done = _geotile(["tile", image, "--size", "32", "-o", tmp_path / "patches"], tmp_path,
                    LC_ALL="POSIX", PYTHONUTF8="0")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "PYTHONUTF8=1" in done.stderr and "東京_é.tif" in done.stderr
    assert not (tmp_path / "patches").exists()


def test_other_text_this_locale_cannot_encode_is_not_called_a_file_name():
    """Under LC_ALL=C with PYTHONUTF8=0 a class name beyond ASCII printed to an ASCII stream
    fails too: its line names the text, not 'a file name'."""
    from geotile.cli.main import _encoding_advice

    printed = _encoding_advice(UnicodeEncodeError("ascii", "class Bâtiment: IoU 0.9", 8, 9,
                                                  "ordinal not in range(128)"))
    assert "file name" not in printed and "Bâtiment" in printed and "PYTHONUTF8=1" in printed
    name = "/data/\udcc3\udca9.tif"  # é's bytes as Python holds them in that locale
    named = _encoding_advice(UnicodeEncodeError("utf-8", name, 6, 8, "surrogates not allowed"))
    assert named.startswith("/data/é.tif: a file name beyond ASCII")


def test_a_ctrl_c_landing_in_a_callback_that_swallows_exceptions_still_interrupts(make_raster,
                                                                                  tmp_path):
    """Ctrl-C landing while pyproj's C log callback ran Python printed 'Exception ignored in:
    pyproj._context.pyproj_log_function ... CtrlC' and was lost: the run went on and exited 0
    (3 of 5 late kills of vectorize -o x.csv). A Ctrl-C swallowed so is delivered again,
    and the run ends with its one 'interrupted' line (a __del__ stands in for the callback:
    Python swallows its exceptions the same way)."""
    raster = make_raster("p.tif", np.ones((8, 8), np.float32))
    lines = _vectorize_interrupted(raster, tmp_path, (
        "class Callback:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        sum(range(100000))\n"
        "def polygonize(*args, **kwargs):\n"
        "    callback = Callback()\n"
        "    del callback\n"
        "    return real(*args, **kwargs)\n"))
    assert "interrupted; nothing was written" in lines[0]
    assert not (tmp_path / "v.gpkg").exists()


def test_vectorize_lines_summary_names_the_units_of_its_length(run_cli, make_raster, tmp_path):
    """A raster without CRS gives lines in its own coordinates: the summary line says so,
    not metres (as evaluate's "(23.0 units)" and the warning do)."""
    roads = np.zeros((20, 20), np.uint8)
    roads[10, :] = 1
    plain = make_raster("plain.tif", roads, crs=None)
    result = run_cli("vectorize", plain, "-o", tmp_path / "plain.geojson", "--lines")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 line, 9.5 units (no CRS)")
    mapped = make_raster("mapped.tif", roads)
    result = run_cli("vectorize", mapped, "-o", tmp_path / "mapped.geojson", "--lines")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 line, 9.5 m")
    # a road CSV's pixel WKT carries no CRS, but the lengths of georeferenced rasters are m
    result = run_cli("vectorize", mapped, "-o", tmp_path / "roads.csv", "--lines")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 line, 9.5 m")
    result = run_cli("vectorize", plain, "-o", tmp_path / "p.csv", "--lines", "--json")
    assert '"units": "coordinates"' in result.stdout


def _ends_interrupted_by_sigterm(code: str, output) -> None:
    """Run ``code`` (a geotile command) in a process of its own: it ends by SIGTERM with its
    one 'interrupted' line, ``output`` unwritten."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == -signal.SIGTERM, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], done.stderr
    assert not output.exists()


def test_only_a_process_of_its_own_freezes_the_modules_a_command_imports(run_cli, tmp_path,
                                                                         monkeypatch):
    # main() (the console script, `python -m geotile`) runs one command and exits: numpy's
    # and rasterio's modules are taken out of the collector's walks; a CliRunner's (tests, a
    # notebook) are not, so garbage of earlier commands there stays collectable
    import gc

    from geotile.cli import main as cli_main

    args = ("make-masks", tmp_path / "none.geojson", tmp_path / "none.tif", "-o",
            tmp_path / "mask.tif")
    before = gc.get_freeze_count()
    result = run_cli(*args)
    assert result.exit_code == 1 and "none.tif: no such file" in result.stderr
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", [True])
    try:
        result = run_cli(*args)
        assert result.exit_code == 1 and "none.tif: no such file" in result.stderr
        assert gc.get_freeze_count() > before
        assert gc.isenabled()
    finally:
        gc.unfreeze()
    assert not (tmp_path / "mask.tif").exists()


def test_a_sigterm_an_import_swallowed_is_still_the_error_of_a_worker_it_ended(make_raster,
                                                                              tmp_path):
    """`timeout` (or kill -TERM -PGID) signals vectorize --workers 2 and its workers at once:
    1 run in 40 printed 'a worker process died (out of memory?)' and exited 1, because the
    parent's own SIGTERM landed in a C extension's import (geopandas, imported while the
    workers polygonize), which swallowed it, and the dead workers then surfaced as that
    GeotileError. An error after a signal came is the interrupt's: its one line, ended by
    SIGTERM (a shell's 143)."""
    raster = make_raster("p.tif", np.ones((8, 8), np.float32))
    code = (
        "import os, signal, sys, time, geotile.cli.main as m, geotile.vectorize_modes as vm\n"
        "from geotile.errors import GeotileError\n"
        "def polygonize(*args, **kwargs):\n"
        "    try:  # an extension module's set-up that clears the handler's exception\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    except BaseException:\n"
        "        pass\n"
        "    raise GeotileError('a worker process died (out of memory?); run again with '\n"
        "                       'fewer workers (--workers 1: this process only).')\n"
        "vm.vectorize_rasters = polygonize\n"
        f"sys.argv = ['geotile', 'vectorize', {str(raster)!r}, '-o', "
        f"{str(tmp_path / 'v.gpkg')!r}]\n"
        "m.main()\n")
    _ends_interrupted_by_sigterm(code, tmp_path / "v.gpkg")


def test_a_sigterm_landing_in_an_import_that_swallows_it_still_interrupts(make_raster,
                                                                         tmp_path):
    """kill -TERM of vectorize just after its workers started: 1 run in 30 wrote its output
    and exited 0, the signal lost. It landed in `import geopandas` (imported while the
    workers polygonize), whose Cython modules (pandas._libs._cyutility, shapely's) swallow
    an exception raised during their set-up. The imports now hold signals back: the run
    ends with its one 'interrupted' line, by SIGTERM, nothing written. (A finder that runs
    the signal's handler in a try/except stands in for the Cython module.)"""
    raster = make_raster("p.tif", (np.arange(64).reshape(8, 8) % 3 == 0).astype(np.float32))
    code = (
        "import os, signal, sys, time, geotile.cli.main as m\n"
        "class Swallowing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('geopandas', 'pyogrio'):\n"
        "            sys.meta_path.remove(self)\n"
        "            try:\n"
        "                os.kill(os.getpid(), signal.SIGTERM)\n"
        "                time.sleep(1)\n"
        "            except BaseException:\n"
        "                pass\n"
        "        return None\n"
        "for name in [n for n in sys.modules if n.split('.')[0] in ('geopandas', 'pyogrio')]:\n"
        "    del sys.modules[name]\n"
        "sys.meta_path.insert(0, Swallowing())\n"
        f"sys.argv = ['geotile', 'vectorize', {str(raster)!r}, '-o', "
        f"{str(tmp_path / 'v.gpkg')!r}]\n"
        "m.main()\n")
    _ends_interrupted_by_sigterm(code, tmp_path / "v.gpkg")
