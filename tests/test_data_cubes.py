"""Data cubes whose axes GDAL reads as bands (NetCDF/Zarr time steps, HDF cubes stored lines x
bands x samples): predict and tile read the bands when they are spectral, or refuse in one
line naming the raster and the fix; never a model run or patches of the wrong axes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
from .onnx_models import pointwise_model

#: three 40 x 48 slices, each its own values (slice i: 10 * i + column)
CUBE = np.stack([np.tile(np.arange(48, dtype=np.float32), (40, 1)) + 10 * i
                 for i in range(3)])


def _has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


def netcdf_cube(tmp_path, dimension: str, values="{0,1,2}", **options):
    """A NetCDF of one variable Band1 (``dimension``, y, x) that GDAL's netCDF driver wrote
    (its NETCDF_DIM_EXTRA metadata makes the bands one dimension), in UTM 16N; ``options``:
    the driver's (FORMAT="NC4": a NetCDF-4, an HDF5 file)."""
    if not _has_driver("netCDF"):
        pytest.skip("this GDAL has no netCDF driver")
    path = tmp_path / f"{dimension}.nc"
    with rasterio.open("cube", "w", driver="MEM", width=48, height=40, count=3,
                       dtype="float32", crs=UTM_CRS,
                       transform=from_origin(*UTM_ORIGIN, 0.5, 0.5)) as mem:
        mem.update_tags(NETCDF_DIM_EXTRA=f"{{{dimension}}}",
                        **{f"NETCDF_DIM_{dimension}_DEF": "{3,6}",
                           f"NETCDF_DIM_{dimension}_VALUES": values})
        mem.write(CUBE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rasterio.shutil.copy(mem, path, driver="netCDF", **options)
    return path


def zarr_cube(tmp_path):
    """A Zarr (v2, uncompressed) array of dimensions (time, y, x), as xarray names them."""
    if not _has_driver("Zarr"):
        pytest.skip("this GDAL has no Zarr driver")
    root = tmp_path / "cube.zarr"
    (root / "ndvi").mkdir(parents=True)
    (root / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (root / "ndvi" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": list(CUBE.shape), "chunks": list(CUBE.shape),
        "dtype": "<f4", "compressor": None, "fill_value": None, "order": "C",
        "filters": None}))
    (root / "ndvi" / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["time", "y", "x"]}))
    CUBE.astype("<f4").tofile(root / "ndvi" / "0.0.0")
    return root


def test_a_netcdf_variable_of_time_steps_is_refused_by_predict_and_tile(tmp_path, run_cli):
    """A (time, y, x) variable opened as a raster: GDAL makes each time step a band, and a
    3-channel model ran on three dates as if they were R, G and B (exit 0)."""
    cube = netcdf_cube(tmp_path, "time")
    model = pointwise_model(tmp_path / "m.onnx", channels=3, ir_version=10)
    result = run_cli("predict", model, cube, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "time.nc", "3 bands", "'time'", "gdal_translate -b 1")
    assert not (tmp_path / "out").exists()
    result = run_cli("tile", cube, "--size", 16, "-o", tmp_path / "patches")
    assert_one_line_error(result, "time.nc", "'time'")
    assert not (tmp_path / "patches").exists()


def test_time_steps_written_to_a_geotiff_are_read(tmp_path, run_cli):
    """The refusal's fix: gdal_translate -b 1 -b 3 of the cube copies its NETCDF_DIM_*
    metadata into the GeoTIFF, which was refused in turn; the user chose those bands."""
    cube = netcdf_cube(tmp_path, "time")
    two = tmp_path / "two.tif"
    with rasterio.open(cube) as src:
        profile = {**src.profile, "driver": "GTiff", "count": 2}
        with rasterio.open(two, "w", **profile) as dst:
            dst.write(src.read([1, 3]))
            dst.update_tags(**src.tags())  # as gdal_translate copies them
            for band, source in ((1, 1), (2, 3)):
                dst.update_tags(band, **src.tags(source))
    result = run_cli("tile", two, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "patches" / "images" / "two_0_0.tif") as src:
        np.testing.assert_array_equal(src.read(), CUBE[[0, 2], :16, :16])


def test_a_netcdf4_variable_read_by_the_hdf5_driver_is_refused(tmp_path, run_cli):
    """HDF5:"time.nc"://Band1 of a NetCDF-4 (time, y, x) variable: GDAL's HDF5 driver made
    its dates bands with neither their dimension's name nor the georeference, and a
    3-channel model ran on them (exit 0, pixel coordinates)."""
    if not _has_driver("HDF5"):
        pytest.skip("this GDAL has no HDF5 driver")
    cube = netcdf_cube(tmp_path, "time", FORMAT="NC4")
    model = pointwise_model(tmp_path / "m.onnx", channels=3, ir_version=10)
    result = run_cli("predict", model, f'HDF5:"{cube}"://Band1', "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "Band1", "NetCDF-4", f"NETCDF:\"{cube}\":Band1")
    assert not (tmp_path / "out").exists()
    result = run_cli("predict", model, f'NETCDF:"{cube}":Band1', "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "'time'")  # as the fix names it: its dates refused


def test_a_netcdf_cube_of_wavelengths_is_read_as_its_bands(tmp_path, run_cli):
    """(wavelength, y, x), stored bottom row first (GDAL writes it so, y ascending): the
    bands are spectral bands, north up, in the file's CRS."""
    cube = netcdf_cube(tmp_path, "wavelength", "{490,560,665}")
    result = run_cli("tile", cube, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "patches" / "images" / "wavelength_0_0.tif") as src:
        np.testing.assert_array_equal(src.read(), CUBE[:, :16, :16])
        assert src.crs == rasterio.crs.CRS.from_string(UTM_CRS)
        assert src.transform == from_origin(*UTM_ORIGIN, 0.5, 0.5)


def test_make_masks_keeps_the_grid_of_a_time_cube(tmp_path, run_cli):
    """make-masks reads the image for its grid alone: a time cube's grid is right."""
    import geopandas
    from shapely.geometry import box

    cube = netcdf_cube(tmp_path, "time")
    x, y = UTM_ORIGIN
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(x, y - 10, x + 10, y)], crs=UTM_CRS).to_file(labels)
    result = run_cli("make-masks", labels, cube, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    (mask,) = (tmp_path / "masks").glob("*.tif")
    with rasterio.open(mask) as src:
        assert src.transform == from_origin(*UTM_ORIGIN, 0.5, 0.5)
        assert (src.width, src.height) == (48, 40)
        assert src.read(1)[:20, :20].all() and not src.read(1)[20:, 20:].any()


def test_a_zarr_store_is_refused_with_the_command_that_reads_it(tmp_path, run_cli):
    """A Zarr store is a folder of chunks: its array by GDAL's name (ZARR:"cube.zarr":/ndvi)
    was 'no such file. Check the path.', the store itself 'the folder holds no raster
    files'. One line says what it is and how to write its array to a GeoTIFF."""
    cube = zarr_cube(tmp_path)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, ir_version=10)
    name = f'ZARR:"{cube}":/ndvi'
    result = run_cli("predict", model, name, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, name, "a Zarr store", "gdal_translate", " -b ")
    assert not (tmp_path / "out").exists()
    for given in (cube, cube / "ndvi"):
        result = run_cli("tile", given, "--size", 16, "-o", tmp_path / "patches")
        assert_one_line_error(result, "cube.zarr", "a Zarr store", f"ZARR:\"{cube}\":/ndvi")
        assert not (tmp_path / "patches").exists()
    labels = tmp_path / "labels.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": []}')
    result = run_cli("make-masks", labels, cube, "-o", f"{tmp_path / 'masks'}/")
    assert_one_line_error(result, "a Zarr store")


def test_a_zarr_store_in_a_zip_is_read_through_gdal(tmp_path, run_cli):
    """ZARR:"/vsizip//abs/cube.zip/cube.zarr":/ndvi said 'no such file. Check the path.':
    the store is a folder in the zip, not a member. A zip is a file (versioned, never
    overwritten as one), so GDAL reads it, and its (time, y, x) array is refused as a
    NetCDF's is."""
    import zipfile

    cube = zarr_cube(tmp_path)
    archive = tmp_path / "cube.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(cube.rglob("*")):
            zipped.write(file, file.relative_to(tmp_path).as_posix())
    model = pointwise_model(tmp_path / "m.onnx", channels=3, ir_version=10)
    name = f'ZARR:"/vsizip/{archive}/cube.zarr":/ndvi'
    result = run_cli("predict", model, name, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, name, "3 bands", "'time'", "gdal_translate -b 1")
    assert not (tmp_path / "out").exists()


def _h5_cube(path, datasets: dict, **attrs):
    """An HDF5 file of ``datasets`` (path in the file -> array) and string ``attrs``."""
    h5py = pytest.importorskip("h5py")
    if not _has_driver("HDF5"):
        pytest.skip("this GDAL has no HDF5 driver")
    with h5py.File(path, "w") as f:
        for dataset, array in datasets.items():
            f.create_dataset(dataset, data=array)
        for key, value in attrs.items():
            f.attrs[key] = np.bytes_(value)
    return path


def test_a_prisma_cube_read_as_lines_is_refused(tmp_path, run_cli):
    """PRISMA L2D stores its cubes lines x bands x samples: GDAL read a 40-line, 173-band
    cube as 40 'bands' of 48 x 173 px, and a 40-channel model ran on it (exit 0)."""
    fields = "HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields"
    he5 = _h5_cube(tmp_path / "PRS_L2D_STD_20200101_0001.he5",
                   {f"{fields}/SWIR_Cube": np.ones((40, 173, 48), np.uint16),
                    f"{fields}/VNIR_Cube": np.ones((40, 66, 48), np.uint16),
                    f"{fields}/SWIR_PIXEL_L2_ERR_MATRIX": np.ones((40, 173, 48), np.uint8)},
                   Product_ID="PRS_L2D_STD")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the container has no geotransform
        with rasterio.open(he5) as src:
            (name,) = [s for s in src.subdatasets if s.endswith("SWIR_Cube")]
    model = pointwise_model(tmp_path / "m.onnx", channels=40, ir_version=10)
    result = run_cli("predict", model, name, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "SWIR_Cube", "lines x bands x samples", "transpose=[1,0,2]")
    assert not (tmp_path / "out").exists()
    result = run_cli("tile", name, "--size", 16, "-o", tmp_path / "patches")
    assert_one_line_error(result, "SWIR_Cube", "lines x bands x samples")
    assert not (tmp_path / "patches").exists()
    result = run_cli("tile", name.replace("SWIR_Cube", "SWIR_PIXEL_L2_ERR_MATRIX"), "--size",
                     16, "-o", tmp_path / "patches")  # its error matrix alike
    assert_one_line_error(result, "ERR_MATRIX", "lines x bands x samples")


@pytest.mark.parametrize("shape", [(48, 100, 48), (32, 32, 3)],
                         ids=["lines-bands-samples", "rows-columns-bands"])
def test_an_hdf5_cube_whose_band_count_is_a_spatial_size_is_refused(tmp_path, run_cli,
                                                                    shape):
    """No georeference, and as many 'bands' as columns or rows: the first axis is a spatial
    one (a numpy (H, W, C) patch of 32 x 32 x 3 read as 32 bands of 3 x 32 px)."""
    h5 = _h5_cube(tmp_path / "scene.h5", {"cube": np.ones(shape, np.float32)})
    result = run_cli("tile", f'HDF5:"{h5}"://cube', "--size", 16, "-o", tmp_path / "p")
    assert_one_line_error(result, "cube", f"{shape[0]} bands", "transpose")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("array", ["cube", "scene/radiance/cube"])
def test_an_hdf5_cube_given_by_its_file_name_is_told_its_arrays_path(tmp_path, run_cli,
                                                                     array):
    """An HDF5 file of one cube given by its file name (GDAL opens its one array): the line
    said gdalmdimtranslate -array 'name=/,transpose=[1,0,2]', a path naming no array. Now
    it names the array's own path, which GDAL opens as that cube."""
    h5 = _h5_cube(tmp_path / "scene.h5", {array: np.ones((48, 100, 48), np.float32)})
    result = run_cli("tile", h5, "--size", 16, "-o", tmp_path / "p")
    assert_one_line_error(result, "scene.h5", "48 bands",
                          f"-array 'name=/{array},transpose=[1,0,2]'")
    assert "name=/," not in result.stderr and not (tmp_path / "p").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no georeference
        with rasterio.open(f'HDF5:"{h5}"://{array}') as src:
            assert (src.count, src.height, src.width) == (48, 100, 48)


def test_a_square_hdf5_cube_of_bands_first_is_told_how_to_read_it_as_it_is(tmp_path,
                                                                          run_cli):
    """A numpy (C, H, W) chip of 64 bands of 64 x 64 px, which GDAL reads right, was told
    its bands 'are a spatial axis' and to transpose it (garbage once followed): its shape
    cannot say, so the line says they may be and gives the copy that keeps it as it is."""
    cube = np.arange(64 ** 3, dtype=np.float32).reshape(64, 64, 64)
    h5 = _h5_cube(tmp_path / "chip.h5", {"cube": cube})
    name = f'HDF5:"{h5}"://cube'
    result = run_cli("tile", name, "--size", 16, "-o", tmp_path / "p")
    assert_one_line_error(result, "64 bands", "may be a spatial axis", "transpose=[1,0,2]",
                          "if its first axis is its bands",
                          f"gdal_translate '{name}' cube.tif")
    assert "are a spatial axis" not in result.stderr and not (tmp_path / "p").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rasterio.shutil.copy(name, tmp_path / "cube.tif", driver="GTiff")  # as told
    result = run_cli("tile", tmp_path / "cube.tif", "--size", 16, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p" / "images" / "cube_0_0.tif") as src:
        np.testing.assert_array_equal(src.read(), cube[:, :16, :16])


def test_an_hdf5_cube_of_bands_rows_columns_is_read(tmp_path, run_cli):
    """(bands, y, x) with a band count no spatial size: read as it is, in pixel coordinates."""
    h5 = _h5_cube(tmp_path / "scene.h5", {"cube": CUBE})
    result = run_cli("tile", f'HDF5:"{h5}"://cube', "--size", 16, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(tmp_path / "p" / "images" / "scene_cube_0_0.tif") as src:
            np.testing.assert_array_equal(src.read(), CUBE[:, :16, :16])


def _netcdf_without_coordinates(tmp_path):
    """A NetCDF of one 40 x 48 variable stored top row first, with no x/y coordinates."""
    if not _has_driver("netCDF"):
        pytest.skip("this GDAL has no netCDF driver")
    path = tmp_path / "plain.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no geotransform: the point
        with rasterio.open("plain", "w", driver="MEM", width=48, height=40, count=1,
                           dtype="float32") as mem:
            mem.write(CUBE[2], 1)
            rasterio.shutil.copy(mem, path, driver="netCDF", WRITE_BOTTOMUP="NO")
    return path


def test_a_netcdf_without_coordinates_is_not_flipped_silently(tmp_path, run_cli, monkeypatch):
    """No y coordinate says which way its rows go: GDAL assumes bottom-up and flipped them,
    and tile cut patches of the image upside down (exit 0) beside masks of its rows as
    stored. The user's GDAL_NETCDF_BOTTOMUP says which; without it, one line asks."""
    path = _netcdf_without_coordinates(tmp_path)
    monkeypatch.delenv("GDAL_NETCDF_BOTTOMUP", raising=False)
    result = run_cli("tile", path, "--size", 16, "-o", tmp_path / "patches")
    assert_one_line_error(result, "plain.nc", "GDAL_NETCDF_BOTTOMUP=NO")
    assert not (tmp_path / "patches").exists()
    model = pointwise_model(tmp_path / "m.onnx", channels=1, ir_version=10)
    result = run_cli("predict", model, path, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "plain.nc", "GDAL_NETCDF_BOTTOMUP")
    monkeypatch.setenv("GDAL_NETCDF_BOTTOMUP", "NO")  # rows as stored, top first
    result = run_cli("tile", path, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(tmp_path / "patches" / "images" / "plain_0_0.tif") as src:
            np.testing.assert_array_equal(src.read(1), CUBE[2, :16, :16])


def _netcdf_of(tmp_path, name, array, crs, transform, **band):
    """A NetCDF that GDAL's netCDF driver wrote of ``array`` (bottom row first, as it
    writes them), with ``band``'s scale, offset and nodata."""
    if not _has_driver("netCDF"):
        pytest.skip("this GDAL has no netCDF driver")
    path = tmp_path / name
    with rasterio.open("mem", "w", driver="MEM", width=array.shape[1], height=array.shape[0],
                       count=1, dtype=array.dtype, crs=crs, transform=transform,
                       nodata=band.get("nodata")) as mem:
        mem.write(array, 1)
        if "scale" in band:
            mem.scales, mem.offsets = (band["scale"],), (band["offset"],)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rasterio.shutil.copy(mem, path, driver="netCDF")
    return path


def test_a_netcdfs_scale_offset_and_fill_are_kept_as_gdal_declares_them(tmp_path, run_cli):
    """int16 with scale_factor 0.01, add_offset 20 and _FillValue -999: the patches keep
    the stored values, the scale, the offset and the nodata (GDAL applies none of them)."""
    stored = (np.arange(40 * 48).reshape(40, 48) % 1000).astype(np.int16)
    stored[0, 0] = -999
    path = _netcdf_of(tmp_path, "sst.nc", stored, UTM_CRS, from_origin(*UTM_ORIGIN, 0.5, 0.5),
                      scale=0.01, offset=20.0, nodata=-999)
    result = run_cli("tile", path, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "patches" / "images" / "sst_0_0.tif") as src:
        np.testing.assert_array_equal(src.read(1), stored[:16, :16])
        assert (src.scales, src.offsets, src.nodata) == ((0.01,), (20.0,), -999)


def test_make_masks_places_labels_on_a_grid_of_longitudes_0_to_360(tmp_path, run_cli):
    """A global 10-degree grid from 0 to 360 east: a label at 100-90 W (-100..-90) is
    burnt at 260-270 E, columns 26 (not left out as off the grid)."""
    import geopandas
    from shapely.geometry import box

    values = np.tile(np.arange(36, dtype=np.float32), (18, 1))
    path = _netcdf_of(tmp_path, "global.nc", values, "EPSG:4326", from_origin(0, 90, 10, 10))
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(-100, 30, -90, 40)], crs="EPSG:4326").to_file(labels)
    result = run_cli("make-masks", labels, path, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / "global.tif") as src:
        rows, cols = np.nonzero(src.read(1))
        assert src.transform == from_origin(0, 90, 10, 10)
    assert (set(rows), set(cols)) == ({5}, {26})  # 40..30 N, 260..270 E


def _lonlat_netcdf(path):
    """A NetCDF-3 of CF lat/lon coordinates (degrees_north, degrees_east) and no
    grid_mapping, as many climate files are: GDAL places it but names no CRS."""
    from scipy.io import netcdf_file

    if not _has_driver("netCDF"):
        pytest.skip("this GDAL has no netCDF driver")
    with netcdf_file(path, "w") as nc:
        nc.createDimension("lat", 20)
        nc.createDimension("lon", 30)
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat[:], lat.units, lat.standard_name = 50 - np.arange(20) * 0.1, "degrees_north", \
            "latitude"
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon[:], lon.units, lon.standard_name = 5 + np.arange(30) * 0.1, "degrees_east", \
            "longitude"
        nc.createVariable("sst", "f4", ("lat", "lon"))[:] = 1
    return path


def test_labels_on_a_lonlat_netcdf_without_grid_mapping_name_the_crs_to_assign(tmp_path,
                                                                              run_cli):
    """CF lat/lon without grid_mapping: GDAL names no CRS, and make-masks said 'Assign one
    with gdal_edit.py -a_srs EPSG:xxxx' (which rewrites the user's NetCDF). It says the
    coordinates are longitude/latitude and writes a GeoTIFF with EPSG:4326."""
    import geopandas
    from shapely.geometry import box

    path = _lonlat_netcdf(tmp_path / "sst.nc")
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(5.5, 48.5, 6, 49)], crs="EPSG:4326").to_file(labels)
    result = run_cli("make-masks", labels, path, "-o", f"{tmp_path / 'masks'}/")
    assert_one_line_error(result, "sst.nc", "longitude/latitude",
                          f"gdal_translate -a_srs EPSG:4326 {path}")
    assert "gdal_edit" not in result.stderr
