"""NASA HLS v2.0 band files (HLS.S30.T10SEG.2023240T184919.v2.0.B04.tif): int16 surface
reflectance whose scale (0.0001) some files declare only in their band metadata
(scale_factor, add_offset, _FillValue), not as GDAL's scale: it reaches predict's advice."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error
from .test_predict_mlm import identity_model

GRID = from_origin(600000, 4200000, 30, 30)
NAME = "HLS.S30.T10SEG.2023240T184919.v2.0"


def hls_band(folder, band="B04", gdal_scale=False, nodata=-9999, name=NAME, dtype="int16",
             tags=True):
    """An HLS band COG: 1200 (reflectance 0.12; 120 in 8 bits), its left 4 columns -9999 (the fill);
    band tags as LP DAAC's files carry them; GDAL's scale 0.0001 too with ``gdal_scale``."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.full((1, 16, 16), 120 if dtype == "uint8" else 1200, dtype)
    pixels[:, :, :4] = -9999 if dtype == "int16" else 0
    path = folder / f"{name}.{band}.tif"
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1, dtype=dtype,
                       crs="EPSG:32610", transform=GRID, nodata=nodata, tiled=True,
                       blockxsize=16, blockysize=16, compress="deflate") as dst:
        dst.write(pixels)
        if tags:
            dst.update_tags(1, _FillValue="-9999", add_offset="0", scale_factor="0.0001",
                            long_name="Red")
        if gdal_scale:
            dst.scales, dst.offsets = [0.0001], [0.0]
    return path


@pytest.mark.parametrize("gdal_scale", [False, True], ids=["tags", "gdal-scale"])
@pytest.mark.parametrize("nodata", [-9999, None], ids=["nodata", "fill-tag-only"])
def test_a_band_file_declares_its_scale_and_fill(tmp_path, gdal_scale, nodata):
    """scale_factor 0.0001 in the band's metadata alone read as scale 1 (predict's advice:
    --scale 0.000489 for 11-bit pixels): the file declares scale 0.0001, offset 0 and
    nodata -9999 (its _FillValue where it declares no nodata)."""
    from geotile.raster import open_raster

    with open_raster(hls_band(tmp_path, gdal_scale=gdal_scale, nodata=nodata)) as src:
        assert (src.scales, src.offsets, src.nodatavals) == ((0.0001,), (0.0,), (-9999.0,))
        assert src.read(1)[0, 3:5].tolist() == [-9999, 1200]
        assert src.transform == GRID


def test_predict_names_the_products_scale(run_cli, tmp_path):
    """predict on an HLS B04 whose scale is a tag: the warning names --scale 0.0001, which
    feeds reflectance 0.12; the fill is NaN."""
    band = hls_band(tmp_path)
    model = identity_model(tmp_path / "id.onnx", 1)
    result = run_cli("predict", model, band, "--activation", "none", "-o", tmp_path / "r.tif")
    assert result.exit_code == 0, result.output
    assert "declares scale 0.0001 and offset 0 " in result.stderr
    assert "11-bit" not in result.stderr
    result = run_cli("predict", model, band, "--activation", "none", "--scale", "0.0001",
                     "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst:
        values = dst.read(1)
    assert np.isnan(values[:, :4]).all()
    np.testing.assert_allclose(values[:, 4:], 0.12, atol=1e-6)


@pytest.mark.parametrize("case", ["other-name", "float", "uint8", "no-tags"])
def test_other_files_are_left_as_they_declare(tmp_path, case):
    """A file not named as HLS names its bands, one rescaled to float reflectance or to 8
    bits (gdal_translate -ot Byte -scale, which copies the band's scale_factor tag: it
    declared 0.0001 on 0..255) under the product's name, or one without the tags keeps
    what it declares."""
    from geotile.raster import open_raster

    path = hls_band(tmp_path, name="red" if case == "other-name" else NAME,
                    dtype={"float": "float32", "uint8": "uint8"}.get(case, "int16"),
                    tags=case != "no-tags", nodata=None)
    with open_raster(path) as src:
        assert (src.scales, src.offsets, src.nodatavals) == ((1.0,), (0.0,), (None,))


def fmask(folder):
    """An HLS Fmask: bit flags (64: clear, aerosol low; 66: cloud), 255 the fill."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = np.full((1, 16, 16), 64, np.uint8)
    flags[:, :8] = 66
    flags[:, :, :4] = 255
    path = folder / f"{NAME}.Fmask.tif"
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1,
                       dtype="uint8", crs="EPSG:32610", transform=GRID, nodata=255) as dst:
        dst.write(flags)
        dst.update_tags(1, _FillValue="255", long_name="Fmask")
    return path


@pytest.mark.parametrize("command", ["make-masks", "tile", "evaluate", "ignore"])
def test_fmask_bit_flags_are_refused_as_classes(run_cli, tmp_path, command):
    """An HLS Fmask given as labels, masks or truth made masks of 'classes' 64 and 66 (bit
    flags: aerosol level, cloud...), exit 0: refused in one line naming the file and how to
    take a flag out as a class raster; nothing written. As make-masks --ignore regions
    its every pixel is nonzero (64: clear): the whole mask was left out (255), exit 0."""
    flags, band = fmask(tmp_path), hls_band(tmp_path)
    out = tmp_path / "out"
    args = {"make-masks": ("make-masks", flags, band, "-o", out / "mask.tif"),
            "tile": ("tile", band, "--masks", flags, "--size", "8", "-o", out),
            "evaluate": ("evaluate", flags, flags),
            "ignore": ("make-masks", _empty_labels(tmp_path), band, "--ignore", flags, "-o",
                       out / "mask.tif")}[command]
    result = run_cli(*args)
    assert result.exit_code == 1, result.output
    assert f"{flags.name}: an HLS Fmask" in result.output
    assert "gdal_calc.py" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def _empty_labels(folder):
    """A GeoJSON of no features (a scene without buildings)."""
    path = folder / "none.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    return path


def _rewrite(path, dn: int, left: float = 600240, size: int = 8):
    """``path`` made again by the user (clipped, re-downloaded): ``size`` px a side from
    ``left``, every pixel ``dn``, the same band tags."""
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="int16", crs="EPSG:32610", nodata=-9999,
                       transform=from_origin(left, 4200000, 30, 30)) as dst:
        dst.write(np.full((1, size, size), dn, "int16"))
        dst.update_tags(1, _FillValue="-9999", add_offset="0", scale_factor="0.0001")


def test_a_file_made_again_is_read_again_in_one_process(run_cli, tmp_path):
    """A process that had read an HLS file (a notebook, a dask worker of --scheduler) kept
    its view: the file clipped to 8 x 8 px 240 m east was predicted on its old 16 x 16 grid,
    the new pixels at the old origin and fill beyond, exit 0. Read as it is now."""
    band = hls_band(tmp_path)
    model = identity_model(tmp_path / "id.onnx", 1)
    args = ("predict", model, band, "--activation", "none", "--scale", "0.0001", "-o",
            tmp_path / "out.tif", "--overwrite")
    assert run_cli(*args).exit_code == 0
    _rewrite(band, 2500)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst, rasterio.open(band) as src:
        assert (dst.shape, dst.transform) == ((8, 8), src.transform)
        np.testing.assert_allclose(dst.read(1), 0.25, atol=1e-6)


def test_one_relative_name_in_two_folders_reads_each_folder_s_file(tmp_path, monkeypatch):
    """The same relative file name opened from two working folders read the first's."""
    from geotile.raster import open_raster

    first, second = hls_band(tmp_path / "a"), hls_band(tmp_path / "b")
    _rewrite(second, 2500, left=600000, size=16)
    for folder, dn in ((first.parent, 1200), (second.parent, 2500)):
        monkeypatch.chdir(folder)
        with open_raster(first.name) as src:
            assert src.read(1)[0, 5] == dn


def test_a_band_file_given_to_a_model_of_several_channels_is_told_to_stack(run_cli,
                                                                          tmp_path):
    """An HLS band file (one band of its scene) given to a 3-channel model was advised
    --bands 1,1,1, which feeds B04 as red, green and blue, exit 0: the advice now stacks
    the scene's band files (gdalbuildvrt -separate), which predicts as the product says."""
    import shlex
    import shutil
    import subprocess

    bands = [hls_band(tmp_path, band) for band in ("B04", "B03", "B02")]
    model = identity_model(tmp_path / "id3.onnx", 3)
    result = run_cli("predict", model, bands[0], "-o", tmp_path / "out.tif")
    assert_one_line_error(result, bands[0].name, "one band of an HLS scene")
    assert "--bands 1,1,1" not in result.output
    assert "(gdalbuildvrt -separate " in result.output
    advice = "gdalbuildvrt" + result.output.split("(gdalbuildvrt", 1)[1].split(")", 1)[0]
    assert not (tmp_path / "out.tif").exists()
    if shutil.which("gdalbuildvrt") is None:
        pytest.skip("gdalbuildvrt is not installed: the advice is not run")
    subprocess.run(shlex.split(advice), cwd=tmp_path,
                   check=True)
    stack = tmp_path / shlex.split(advice)[-4]
    result = run_cli("predict", model, stack, "--activation", "none", "--scale", "0.0001",
                     "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst:
        values = dst.read()
        assert dst.transform == GRID
    assert np.isnan(values[:, :, :4]).all()
    np.testing.assert_allclose(values[:, :, 4:], 0.12, atol=1e-6)
