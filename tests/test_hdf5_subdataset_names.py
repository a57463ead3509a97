"""HDF5 subdataset names as gdalinfo lists them (HDF5:"scene.h5"://group/dataset): their
"://" made them look like URLs, so their file was never read as theirs."""

from __future__ import annotations

import os
import warnings

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from geotile.input_paths import absolute_subdataset, subdataset_file
from geotile.input_sources import files_read


def _netcdf4(path, value: int):
    """A NetCDF-4 file (an HDF5 file) of one 64 x 64 variable Band1 of ``value``."""
    tif = path.with_suffix(".tif")
    with rasterio.open(tif, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8",
                       crs="EPSG:32633", transform=from_origin(0, 64, 1, 1)) as dst:
        dst.write(np.full((1, 64, 64), value, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rasterio.shutil.copy(tif, path, driver="netCDF", FORMAT="NC4")
    tif.unlink()


def test_hdf5_subdataset_names_are_made_absolute_and_read_their_file(tmp_path, monkeypatch):
    (tmp_path / "scene.h5").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    name = 'HDF5:"scene.h5"://group/dataset'
    assert subdataset_file(name) == "scene.h5"
    assert absolute_subdataset(name) == f'HDF5:"{tmp_path / "scene.h5"}"://group/dataset'
    assert [os.fspath(f) for f in files_read(name)][1] == "scene.h5"
    # a remote file's is no local file; URLs stay as they are
    assert absolute_subdataset('HDF5:"https://host/scene.h5"://group/dataset') is None
    assert subdataset_file("https://host/scene.h5") is None


def test_tile_resume_of_an_hdf5_subdataset_sees_its_file_change(tmp_path, monkeypatch,
                                                                run_cli):
    """tile --resume of HDF5:"g.nc"://Band1 kept the patches of the file before it changed
    (the old pixels, exit 0): the file was not among the run's inputs."""
    monkeypatch.chdir(tmp_path)
    _netcdf4(tmp_path / "g.nc", 10)
    name = 'HDF5:"g.nc"://Band1'
    result = run_cli("tile", name, "--size", 32, "-o", "out", "--resume")
    assert result.exit_code == 0, result.output
    patches = sorted((tmp_path / "out" / "images").iterdir())
    assert patches[0].name == "g_Band1_0_0.tif"
    with rasterio.open(patches[0]) as src:
        assert src.read(1)[0, 0] == 10
    os.utime(tmp_path / "g.nc", ns=(1, 1))  # another version, as a rewritten file is
    _netcdf4(tmp_path / "g.nc", 99)
    result = run_cli("tile", name, "--size", 32, "-o", "out", "--resume")
    assert result.exit_code == 0, result.output
    with rasterio.open(patches[0]) as src:
        assert src.read(1)[0, 0] == 99


def test_the_file_is_made_absolute_where_it_stands_in_the_name(tmp_path, monkeypatch):
    """A file named as a part of the driver's prefix (CDF in NETCDF:"CDF":v) was made
    absolute where the prefix holds it first: NET/abs/CDF:"CDF":v, which GDAL opens not."""
    (tmp_path / "CDF").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert absolute_subdataset('NETCDF:"CDF":v') == f'NETCDF:"{tmp_path / "CDF"}":v'
    assert absolute_subdataset("NETCDF:CDF:v") == f"NETCDF:{tmp_path / 'CDF'}:v"
