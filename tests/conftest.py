"""Shared fixtures: synthetic GeoTIFFs with real CRSs, the real-data folder, the CLI runner."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import geopandas
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner, Result
from rasterio.transform import from_origin

# geotile reads and writes vectors with pyogrio (engine="pyogrio"); the tests read its output
# the same way. geopandas 0.14 would otherwise pick fiona when installed, and geopandas
# 0.14.0's fiona reader breaks on fiona >= 1.10 (no fiona.path).
geopandas.options.io_engine = "pyogrio"

# Hypothesis' deadline (200 ms an example) and its too-slow health check time the machine,
# not the code: on CI's 2 loaded cores they fail at random. No property test is timed.
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis comes with the test extras
    pass
else:
    settings.register_profile("geotile", deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("geotile")

REAL_DATA = Path(os.environ.get("GEOTILE_REAL_DATA", Path(__file__).parents[2] / "shared" / "data"))

#: a UTM 16N origin near the SpaceNet sample tile, 0.5 m pixels
UTM_CRS = "EPSG:32616"
UTM_ORIGIN = (740000.0, 3735000.0)


def write_raster(
    path: Path,
    array: np.ndarray,
    crs: str | None = UTM_CRS,
    transform=None,
    nodata=None,
    descriptions=None,
    **profile,
) -> Path:
    """Write ``array`` ((bands, rows, cols) or (rows, cols)) as a GeoTIFF and return its path
    (``descriptions``: its bands', in order)."""
    if array.ndim == 2:
        array = array[np.newaxis]
    count, height, width = array.shape
    if transform is None:
        transform = from_origin(*UTM_ORIGIN, 0.5, 0.5)
    options = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    options.update(profile)
    with rasterio.open(path, "w", **options) as dst:
        dst.write(array)
        for band, text in enumerate(descriptions or (), 1):
            dst.set_band_description(band, text)
    return path


def write_without_transform(path: Path, array: np.ndarray, crs: str | None = None) -> Path:
    """A GeoTIFF of ``array`` (bands, rows, cols) with ``crs`` but no geotransform."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    count, height, width = array.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count,
                           dtype=array.dtype.name, crs=crs) as dst:
            dst.write(array)
    return path


def rgbn_with_a_lake(shape, lake, collar, seed: int, alpha: bool = False) -> np.ndarray:
    """A uint8 RGB+NIR stack (4, *shape) of random values 1..249 (GDAL flags band 4 alpha
    once written): NIR 0 over ``lake`` (an index of rows, cols), every band 0 in ``collar``
    (the scene's outside); ``alpha``: band 4 a real 0/255 alpha instead, 0 over the lake."""
    stack = np.random.default_rng(seed).integers(1, 250, (4, *shape)).astype(np.uint8)
    if alpha:
        stack[3] = 255
    stack[3][lake] = 0
    stack[(slice(None), *collar)] = 0
    return stack


def write_garbled_jpeg(path: Path) -> Path:
    """A 128 x 128 RGB JPEG whose second half of compressed data is garbled: libjpeg decodes
    it into noise with a warning ('Corrupt JPEG data')."""
    pixels = np.random.default_rng(0).integers(0, 255, (3, 128, 128)).astype(np.uint8)
    with rasterio.open(path, "w", driver="JPEG", width=128, height=128, count=3,
                       dtype="uint8") as dst:
        dst.write(pixels)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) - 10, 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def write_vrt(path: Path, source: Path) -> Path:
    """A GDAL VRT at ``path`` of every band of the uint8 raster ``source`` (by its absolute
    path: ``source`` may be removed or rewritten afterwards)."""
    with rasterio.open(source) as src:
        bands = "".join(
            f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource>'
            f"<SourceFilename>{Path(source).resolve()}</SourceFilename>"
            f"<SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>"
            for b in range(1, src.count + 1))
        path.write_text(
            f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">'
            f"<SRS>{src.crs.to_wkt()}</SRS>"
            f"<GeoTransform>{', '.join(map(str, src.transform.to_gdal()))}</GeoTransform>"
            f"{bands}</VRTDataset>")
    return path


@pytest.fixture
def make_raster(tmp_path):
    """Factory: make_raster(name, array, **kw) writes tmp_path/name and returns its path."""

    def factory(name: str, array: np.ndarray, **kwargs) -> Path:
        return write_raster(tmp_path / name, array, **kwargs)

    return factory


@pytest.fixture
def real_data() -> Path:
    """The folder of real SpaceNet/Landsat data; the test is skipped when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} not found (set GEOTILE_REAL_DATA)")
    return REAL_DATA


class _BothStreamsResult(Result):
    """Click 8.1's result with ``output`` holding stdout and stderr, as Click >= 8.2 gives."""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _SplitRunner(CliRunner):
    """Click 8.1's runner with stderr captured apart (``result.stderr``), as Click >= 8.2 does."""

    def __init__(self, **kwargs):
        super().__init__(mix_stderr=False, **kwargs)

    def invoke(self, *args, **kwargs):
        result = super().invoke(*args, **kwargs)
        result.__class__ = _BothStreamsResult
        return result


def cli_runner() -> CliRunner:
    """A CliRunner giving ``stdout``, ``stderr`` and ``output`` (both) on every Click >= 8.1."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return _SplitRunner()
    return CliRunner()


@pytest.fixture
def run_cli():
    """Run the CLI in-process: run_cli("tile", ...) -> click Result (stdout, stderr split)."""
    from geotile.cli.main import cli

    def invoke(*args):
        return cli_runner().invoke(cli, [str(a) for a in args], catch_exceptions=True)

    return invoke


def cgroup_tree(tmp_path, files: dict[str, str], proc: str = "0::/\n"):
    """A fake cgroup file system (``files``: path under it -> text) and /proc/self/cgroup
    (``proc``): the (root, proc_cgroup) paths geotile.cpus and geotile.usable_memory read."""
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "proc_cgroup").write_text(proc)
    return root, tmp_path / "proc_cgroup"


def union_of(geometries):
    """The union of a GeoSeries' (or a GeoDataFrame's) geometries: GeoSeries.union_all
    without it, which geopandas 0.14 (setup.cfg's oldest) lacks."""
    frame_geometry = getattr(geometries, "geometry", geometries)
    return shapely.union_all(np.asarray(frame_geometry.values, dtype=object))


def without_crs(frame):
    """A GeoDataFrame/GeoSeries in no CRS, as geotile drops one (geopandas < 1.0 refuses
    ``set_crs(None)``)."""
    from geotile import evaluation_crs

    return evaluation_crs.without_crs(frame)


def assert_one_line_error(result, *fragments, code: int = 1):
    """A CLI result that failed with exit ``code`` (1 bad input, 2 bad usage) and one line
    on stderr holding each fragment."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
