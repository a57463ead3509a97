"""Imagery in the containers providers ship: predict and tile give what the same pixels give
as a plain GeoTIFF (georeference and values), or one line naming the file and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
from .onnx_models import pointwise_model

PIXELS = np.random.default_rng(7).integers(1, 250, (3, 40, 48)).astype(np.uint8)
TRANSFORM = from_origin(*UTM_ORIGIN, 0.5, 0.5)


def has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


def reference(tmp_path):
    """A 3-band uint8 GeoTIFF in UTM 16N."""
    path = tmp_path / "ref.tif"
    with rasterio.open(path, "w", driver="GTiff", width=48, height=40, count=3, dtype="uint8",
                       crs=UTM_CRS, transform=TRANSFORM) as dst:
        dst.write(PIXELS)
    return path


def netcdf_of_bands(tmp_path):
    """A NetCDF holding each band of the reference as its own variable (Band1..Band3)."""
    if not has_driver("netCDF"):
        pytest.skip("this GDAL has no netCDF driver")
    path = tmp_path / "bands.nc"
    rasterio.shutil.copy(reference(tmp_path), path, driver="netCDF")
    return path


def two_page_tiff(tmp_path):
    """A GeoTIFF whose second page (IFD) holds the reference inverted."""
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "pages.tif"
    path.write_bytes(reference(tmp_path).read_bytes())
    tifffile.imwrite(path, (255 - PIXELS).transpose(1, 2, 0), photometric="rgb", append=True)
    return path


#: a subdataset's name as gdalinfo lists it (quoted or not) -> (its file, the name's stem)
SUBDATASETS = {
    "netcdf-quoted": (netcdf_of_bands, lambda p: f'NETCDF:"{p}":Band2', "bands_Band2"),
    "netcdf-unquoted": (netcdf_of_bands, lambda p: f"netcdf:{p}:Band2", "bands_Band2"),
    "gtiff-page": (two_page_tiff, lambda p: f"GTIFF_DIR:2:{p}", "pages_2"),
}


def _same_rasters(a, b):
    with rasterio.open(a) as one, rasterio.open(b) as two:
        assert (one.crs, one.transform) == (two.crs, two.transform)
        np.testing.assert_array_equal(one.read(), two.read())


@pytest.mark.parametrize("case", sorted(SUBDATASETS))
def test_a_subdataset_name_reads_that_raster(tmp_path, run_cli, case):
    """NETCDF:"scene.nc":sst, as gdalinfo names a subdataset (and as the refusal of a file of
    several names them), was refused 'no such file. Check the path.': it is read as GDAL
    reads it, predict's output and tile's patches those of a GeoTIFF copy of it, outputs
    named <file>_<subdataset>."""
    make, name_of, stem = SUBDATASETS[case]
    name = name_of(make(tmp_path))
    copy = tmp_path / "copy.tif"
    rasterio.shutil.copy(name, copy, driver="GTiff")
    with rasterio.open(copy) as src:
        model = pointwise_model(tmp_path / "m.onnx", channels=src.count)
    outputs = tmp_path / "out"
    for image, output in ((name, outputs / "a.tif"), (copy, outputs / "b.tif")):
        result = run_cli("predict", model, image, "-o", output)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    _same_rasters(outputs / "a.tif", outputs / "b.tif")
    for image, folder in ((name, tmp_path / "tiles_a"), (copy, tmp_path / "tiles_b")):
        result = run_cli("tile", image, "--size", "16", "-o", folder)
        assert result.exit_code == 0, result.output
    patches = sorted((tmp_path / "tiles_a" / "images").iterdir())
    assert patches and all(p.name.startswith(f"{stem}_") for p in patches)
    for patch in patches:
        _same_rasters(patch, tmp_path / "tiles_b" / "images" / patch.name.replace(stem, "copy"))
    result = run_cli("predict", model, name, "-o", f"{tmp_path / 'folder'}/")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "folder").iterdir()] == [f"{stem}.tif"]


def test_subdatasets_of_one_file_predict_into_one_folder(tmp_path, run_cli):
    """Two variables of one NetCDF were both named after the file ('inputs share the file
    name'): each output is named after its variable."""
    path = netcdf_of_bands(tmp_path)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, f'NETCDF:"{path}":Band1', f'NETCDF:"{path}":Band3',
                     "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "bands_Band1.tif", "bands_Band3.tif"]


def test_a_subdatasets_file_is_never_an_output(tmp_path, run_cli):
    """A page of a TIFF given by its subdataset name is read from that TIFF: an output of
    that name is refused, --overwrite too, and the file is left as it was."""
    path = two_page_tiff(tmp_path)
    before = path.read_bytes()
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, f"GTIFF_DIR:2:{path}", "-o", path, "--overwrite")
    assert_one_line_error(result, "pages.tif")
    assert path.read_bytes() == before


def test_a_missing_subdatasets_file_is_no_such_file(tmp_path, run_cli):
    """A subdataset name whose file is not there is still 'no such file'."""
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, f'NETCDF:"{tmp_path / "gone.nc"}":sst', "-o",
                     tmp_path / "out.tif")
    assert_one_line_error(result, "gone.nc", "no such file")


@pytest.mark.parametrize("driver,suffix,world", [("PNG", ".png", ".pgw"),
                                                 ("JPEG", ".jpg", ".jgw")])
def test_a_prj_gdal_does_not_read_is_named_with_the_fix(tmp_path, run_cli, driver, suffix,
                                                         world):
    """A world-filed PNG/JPEG with a .prj beside it (GDAL reads no .prj for them) was told
    only 'the raster has no CRS': the warning names the .prj and how to write it in, and
    once written in the output is that CRS on the world file's grid."""
    path = tmp_path / f"scene{suffix}"
    rasterio.shutil.copy(reference(tmp_path), path, driver=driver, WORLDFILE="YES")
    (tmp_path / f"scene{suffix}.aux.xml").unlink(missing_ok=True)
    (tmp_path / "scene.wld").rename(path.with_suffix(world))
    path.with_suffix(".prj").write_text(rasterio.crs.CRS.from_string(UTM_CRS).to_wkt())
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, path, "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    assert "scene.prj" in result.stderr and "gdal_edit.py -a_srs" in result.stderr
    with rasterio.open(tmp_path / "out.tif") as out:
        assert out.crs is None and out.transform == TRANSFORM


def _warnings(result, name: str) -> list[str]:
    """The warnings on stderr that name the file ``name``."""
    return [line for line in result.stderr.splitlines()
            if line.startswith("Warning:") and name in line]


def _predicted(run_cli, tmp_path, image, output, *options):
    """predict of ``image`` by the 3-channel pointwise model (tiles of 16 px: several
    windows) -> the CLI result and the output's pixels."""
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / output, "--tile-size", "16",
                     *options)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    with rasterio.open(tmp_path / output) as out:
        return result, out.read()


def declaring(tmp_path, scales, offsets, name="declared.tif"):
    """The reference, its bands declaring GDAL ``scales`` and ``offsets`` (gdal_edit.py
    -scale -offset)."""
    path = tmp_path / name
    path.write_bytes(reference(tmp_path).read_bytes())
    with rasterio.open(path, "r+") as dst:
        dst.scales, dst.offsets = scales, offsets
    return path


@pytest.mark.parametrize("scales,offsets,shown", [
    ((0.01,) * 3, (-1.0,) * 3, "scale 0.01 and offset -1"),
    ((0.5, 0.5, 1.0), (0.0,) * 3, "scale 0.5 and offset 0"),
    ((1.0,) * 3, (3.0,) * 3, "scale 1 and offset 3")])
def test_a_byte_image_declaring_scale_and_offset_is_said_to_go_in_as_stored(
        tmp_path, run_cli, scales, offsets, shown):
    """uint8 bands declaring a GDAL scale/offset got the default 1/255 with no word: one
    warning names the file, the bands, the scale/offset, what predict feeds (the pixels as
    stored) and the flags that feed the declared values; the output is as before."""
    _, expected = _predicted(run_cli, tmp_path, reference(tmp_path), "ref_out.tif")
    result, got = _predicted(run_cli, tmp_path, declaring(tmp_path, scales, offsets), "o.tif")
    np.testing.assert_array_equal(got, expected)
    said = _warnings(result, "declared.tif")
    assert len(said) == 1, result.stderr
    bands = "bands 1,2" if scales[2] == 1 and offsets[2] == 0 else "bands 1,2,3"
    for fragment in (bands, shown, "(value = pixel * scale + offset)",
                     "uint8 pixels go to the model as stored", "divided by 255", "--scale"):
        assert fragment in said[0], said[0]


def test_declared_scale_and_offset_name_the_flags_that_feed_them(tmp_path, run_cli):
    """The warning's flags feed pixel * scale + offset: --scale and the offset as --mean."""
    result, _ = _predicted(run_cli, tmp_path, declaring(tmp_path, (0.01,) * 3, (-1.0,) * 3),
                           "o.tif")
    assert "give --scale 0.01 --mean 1 " in _warnings(result, "declared.tif")[0]


def test_no_declared_scale_warning_without_one_or_with_scale(tmp_path, run_cli):
    """GDAL's defaults (scale 1, offset 0, written or not) say nothing, nor does a scale of
    1/255 (predict --dtype uint8's: the model gets those values); nor does a given --scale
    (the user chose what goes in)."""
    plain = declaring(tmp_path, (1.0,) * 3, (0.0,) * 3, "plain.tif")
    probability = declaring(tmp_path, (1 / 255,) * 3, (0.0,) * 3, "probability.tif")
    for image in (reference(tmp_path), plain, probability):
        result, _ = _predicted(run_cli, tmp_path, image, "o.tif", "--overwrite")
        assert not _warnings(result, "declare"), result.stderr
    result, _ = _predicted(run_cli, tmp_path, declaring(tmp_path, (0.01,) * 3, (-1.0,) * 3),
                           "s.tif", "--scale", "0.01")
    assert not _warnings(result, "declared.tif"), result.stderr


def rpc_tiff(tmp_path, sidecar: bool):
    """The reference's pixels placed by RPCs alone (no geotransform, as Maxar/WorldView L1B
    and Pleiades primary ship), in the TIFF's tags or an .RPB beside it."""
    import warnings

    from rasterio.rpc import RPC

    path = tmp_path / "l1b.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(path, "w", driver="GTiff", width=48, height=40, count=3,
                           dtype="uint8", **({"RPB": "YES"} if sidecar else {})) as dst:
            dst.write(PIXELS)
            dst.rpcs = RPC(height_off=0, height_scale=500, lat_off=50, lat_scale=0.01,
                           line_den_coeff=[1] + [0] * 19, line_num_coeff=[0, 0, 1] + [0] * 17,
                           line_off=20, line_scale=20, long_off=10, long_scale=0.01,
                           samp_den_coeff=[1] + [0] * 19, samp_num_coeff=[0, 1] + [0] * 18,
                           samp_off=24, samp_scale=24)
    assert (tmp_path / "l1b.RPB").exists() == sidecar
    return path


@pytest.mark.parametrize("sidecar", [False, True], ids=["tags", "rpb"])
def test_rpc_imagery_is_told_to_orthorectify_with_its_rpcs(tmp_path, run_cli, sidecar):
    """An image placed by RPCs alone was told 'gdalwarp -t_srs', which does not say to use
    them nor a DEM: predict and tile name gdalwarp -rpc and -to RPC_DEM; outputs as before."""
    image = rpc_tiff(tmp_path, sidecar)
    _, expected = _predicted(run_cli, tmp_path, reference(tmp_path), "ref_out.tif")
    result, got = _predicted(run_cli, tmp_path, image, "o.tif")
    np.testing.assert_array_equal(got, expected)
    tiled = run_cli("tile", image, "--size", "16", "-o", tmp_path / "tiles")
    assert tiled.exit_code == 0, tiled.output
    for said in (_warnings(result, "l1b.tif"), _warnings(tiled, "l1b.tif")):
        assert len(said) == 1 and "RPCs only" in said[0], said
        assert "gdalwarp -rpc -t_srs EPSG:xxxx" in said[0] and "-to RPC_DEM=dem.tif" in said[0]


def test_a_multi_page_tiff_says_which_page_is_read(tmp_path, run_cli):
    """A TIFF of several pages was read as page 1 without a word: predict and tile say how
    many pages it holds and that GTIFF_DIR:N:<file> reads another; page 1 is read as before."""
    image = two_page_tiff(tmp_path)
    _, expected = _predicted(run_cli, tmp_path, reference(tmp_path), "ref_out.tif")
    result, got = _predicted(run_cli, tmp_path, image, "o.tif")
    np.testing.assert_array_equal(got, expected)
    tiled = run_cli("tile", image, "--size", "16", "-o", tmp_path / "tiles")
    assert tiled.exit_code == 0, tiled.output
    for said in (_warnings(result, "pages.tif"), _warnings(tiled, "pages.tif")):
        assert len(said) == 1, said
        assert "2 pages" in said[0] and "page 1" in said[0], said[0]
        assert f"GTIFF_DIR:2:{image}" in said[0], said[0]


def test_overviews_masks_and_a_chosen_page_are_no_pages(tmp_path, run_cli):
    """A COG's overviews and a TIFF's internal mask are no pages; a page given by its
    GTIFF_DIR name is the one wanted: no word of pages."""
    cog = tmp_path / "cog.tif"  # a COG's layout: tiles, internal overviews
    with rasterio.open(cog, "w", driver="GTiff", width=48, height=40, count=3, dtype="uint8",
                       crs=UTM_CRS, transform=TRANSFORM, tiled=True, blockxsize=16,
                       blockysize=16) as dst:
        dst.write(PIXELS)
        dst.build_overviews([2, 4])
    masked = tmp_path / "masked.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(
            masked, "w", driver="GTiff", width=48, height=40, count=3, dtype="uint8",
            crs=UTM_CRS, transform=TRANSFORM, tiled=True, blockxsize=16,
            blockysize=16) as dst:
        dst.write(PIXELS)
        dst.write_mask(np.full((40, 48), 255, np.uint8))
    with rasterio.open(cog) as src:
        assert src.overviews(1)
    page = f"GTIFF_DIR:2:{two_page_tiff(tmp_path)}"
    for image in (cog, masked, page):
        result, _ = _predicted(run_cli, tmp_path, image, "o.tif", "--overwrite")
        tiled = run_cli("tile", image, "--size", "16", "-o", tmp_path / "t", "--overwrite")
        assert tiled.exit_code == 0, tiled.output
        for said in (result.stderr, tiled.stderr):
            assert "pages (" not in said and "GTIFF_DIR" not in said, said
