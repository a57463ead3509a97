"""NITF 2.1 files as Maxar/WorldView and Airbus deliver them (.ntf, .NTF, .nitf, .r0), written
by GDAL's NITF driver: predict, tile and make-masks give what the same pixels give as a
GeoTIFF where the file holds the grid exactly, and say so where it holds it only roughly
(IGEOLO's corners: whole metres or arc-seconds), by RPCs alone, or in other segments."""

from __future__ import annotations

import geopandas
import numpy as np
import pytest
import rasterio
import rasterio.shutil
import shapely
from rasterio.rpc import RPC
from rasterio.transform import from_origin

from .conftest import assert_one_line_error, write_raster
from .onnx_models import pointwise_model

with rasterio.Env() as _env:
    if "NITF" not in _env.drivers():
        pytest.skip("this GDAL has no NITF driver", allow_module_level=True)

PIXELS = np.random.default_rng(11).integers(1, 250, (3, 48, 64)).astype(np.uint8)
#: UTM 33N, 0.5 m pixels: IGEOLO's whole metres may move the grid by a pixel
UTM = ("EPSG:32633", from_origin(500000.25, 5000000.75, 0.5, 0.5))
#: geographic, ~1 m pixels: IGEOLO's arc-seconds (~31 m) may move it by tens of pixels
GEOGRAPHIC = ("EPSG:4326", from_origin(13.4, 52.52, 1e-5, 1e-5))


def nitf(tmp_path, name, place=UTM, pixels=PIXELS, **options):
    """``pixels`` as a GeoTIFF (<stem>.tif) and as the NITF ``name`` GDAL writes from it
    (``options``: its creation options) -> (GeoTIFF, NITF)."""
    crs, transform = place
    stem = name.rsplit(".", 1)[0]
    tif = write_raster(tmp_path / f"{stem}.tif", pixels, crs=crs, transform=transform)
    rasterio.shutil.copy(tif, tmp_path / name, driver="NITF", **options)
    return tif, tmp_path / name


def _warnings(result, name: str) -> list[str]:
    """The warnings on stderr that name the file ``name``."""
    return [line for line in result.stderr.splitlines()
            if line.startswith("Warning:") and name in line]


def _labels(tmp_path, tif):
    """A building in EPSG:4326 inside the GeoTIFF ``tif``: (a quarter to three quarters of
    its width, a third to two thirds of its height)."""
    with rasterio.open(tif) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    box = shapely.box(left + (right - left) / 4, bottom + (top - bottom) / 3,
                      right - (right - left) / 4, top - (top - bottom) / 3)
    path = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box], crs=crs).to_crs(4326).to_file(path)
    return path


def _read(path):
    with rasterio.open(path) as src:
        return src.crs, src.transform, src.read()


@pytest.mark.parametrize("name, place, icords, precision", [
    ("utm.ntf", UTM, "N", "1 m"),
    ("UTM.NTF", UTM, "N", "1 m"),
    ("south.nitf", ("EPSG:32733", UTM[1]), "S", "1 m"),
    ("geographic.nitf", GEOGRAPHIC, "G", "1 arc-second"),
    ("scene.r0", GEOGRAPHIC, "G", "1 arc-second"),
    ("decimal.ntf", ("EPSG:4326", from_origin(13.4, 52.52, 1e-4, 1e-4)), "D", "0.001 degree"),
])
def test_igeolo_corners_that_may_move_the_grid_a_pixel_are_said(
        tmp_path, run_cli, name, place, icords, precision):
    """GDAL writes a NITF's corners in IGEOLO (whole metres in UTM, whole arc-seconds
    geographic) and reads its grid back from them: 0.5 m pixels came back 0.492 m, the
    origin 0.5 m off, and a mask of labels in EPSG:4326 moved by a pixel (60 of 512 pixels
    differed from the GeoTIFF's), silently. Each command says it, outputs on the NITF's grid."""
    tif, image = nitf(tmp_path, name, place, **({"ICORDS": "D"} if icords == "D" else {}))
    labels = _labels(tmp_path, tif)
    with rasterio.open(image) as src:
        assert src.tags()["NITF_ICORDS"] == icords
        grid = (src.crs, src.transform)
    masked = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    predicted = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    tiled = run_cli("tile", image, "--size", "32", "-o", tmp_path / "tiles")
    for result in (masked, predicted, tiled):
        assert result.exit_code == 0, result.output
        said = _warnings(result, name)
        assert len(said) == 1, result.stderr
        assert f"ICORDS={icords}" in said[0] and f"to {precision}" in said[0], said[0]
        assert "pixel" in said[0] and "SDE_TRE=YES" in said[0], said[0]
    for output in ("mask.tif", "p.tif"):
        assert _read(tmp_path / output)[:2] == grid


def test_a_coarse_grid_igeolo_cannot_move_by_a_pixel_is_not_warned(tmp_path, run_cli):
    """10 m pixels in UTM: IGEOLO's whole metres move them by 0.05 pixel at most."""
    _, image = nitf(tmp_path, "coarse.ntf", ("EPSG:32633", from_origin(500000, 5000000, 10, 10)))
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    assert _warnings(result, "coarse.ntf") == []


def _blocka() -> str:
    """A BLOCKA TRE of GEOGRAPHIC's 64x48 grid: its corner pixels' centres to 1e-6 degree
    (first row last column, last row last column, last row first column, first row first)."""
    t = GEOGRAPHIC[1]
    corners = [t * (c + 0.5, r + 0.5) for c, r in ((63, 0), (63, 47), (0, 47), (0, 0))]
    where = "".join(f"{y:+010.6f}{x:+011.6f}" for x, y in corners)
    return "01" + "00000" + "00048" + " " * 22 + where + "010.0"


@pytest.mark.parametrize("options", [{"SDE_TRE": "YES"}, {"TRE": f"BLOCKA={_blocka()}"}],
                         ids=["geolob", "blocka"])
def test_a_nitf_with_exact_geographic_corners_matches_its_geotiff(tmp_path, run_cli, options):
    """GEOLOB (SDE_TRE=YES) or BLOCKA hold the geographic grid finely: predictions and masks
    are the GeoTIFF's, pixel for pixel and on its grid, with no warning."""
    tif, image = nitf(tmp_path, "exact.ntf", GEOGRAPHIC, **options)
    labels = _labels(tmp_path, tif)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    for source, stem in ((tif, "ref"), (image, "ntf")):
        for args in (("make-masks", labels, source, "-o", tmp_path / f"{stem}_mask.tif"),
                     ("predict", model, source, "-o", tmp_path / f"{stem}_p.tif",
                      "--tile-size", "32")):
            result = run_cli(*args)
            assert result.exit_code == 0, result.output
            assert "Warning" not in result.stderr, result.stderr
    for output in ("mask", "p"):
        crs, transform, got = _read(tmp_path / f"ntf_{output}.tif")
        ref_crs, ref_transform, expected = _read(tmp_path / f"ref_{output}.tif")
        assert crs == ref_crs and transform.almost_equals(ref_transform, precision=1e-9)
        np.testing.assert_array_equal(got, expected)
    assert _read(tmp_path / "ntf_mask.tif")[2].sum() > 0


def _rpc():
    return RPC(height_off=0, height_scale=500, lat_off=52.52, lat_scale=0.01,
               line_den_coeff=[1] + [0] * 19, line_num_coeff=[0, 0, -1] + [0] * 17,
               line_off=24, line_scale=24, long_off=13.4, long_scale=0.01,
               samp_den_coeff=[1] + [0] * 19, samp_num_coeff=[0, 1] + [0] * 18,
               samp_off=32, samp_scale=32)


def rpc_nitf(tmp_path, name, **options):
    """The pixels placed by RPCs alone (an L1B product), written as the NITF ``name``
    (RPC00B), with ``options`` (ICORDS/IGEOLO: corners besides)."""
    import warnings

    tif = tmp_path / "l1b.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(tif, "w", driver="GTiff", width=64, height=48, count=3,
                           dtype="uint8") as dst:
            dst.write(PIXELS)
            dst.rpcs = _rpc()
        rasterio.shutil.copy(tif, tmp_path / name, driver="NITF", **options)
    return tmp_path / name


def test_an_rpc_only_nitf_is_told_to_orthorectify(tmp_path, run_cli):
    """RPC00B and no corners: no map grid; predict and tile say so (outputs keep the RPCs),
    make-masks refuses labels in EPSG:4326 with the gdalwarp -rpc that fixes it."""
    image = rpc_nitf(tmp_path, "l1b.ntf")
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[shapely.box(13.4, 52.51, 13.41, 52.52)],
                           crs=4326).to_file(labels)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    predicted = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert predicted.exit_code == 0, predicted.output
    said = _warnings(predicted, "l1b.ntf")
    assert len(said) == 1 and "RPCs only" in said[0] and "gdalwarp -rpc" in said[0]
    with rasterio.open(tmp_path / "p.tif") as out, rasterio.open(image) as src:
        # GDAL's GeoTIFF writes ERR_BIAS/ERR_RAND 0 as -1 (unknown): the model apart
        kept, read = out.rpcs.to_dict(), src.rpcs.to_dict()
        assert out.transform.is_identity and all(
            kept[k] == v for k, v in read.items() if not k.startswith("err_"))
    masked = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(masked, "l1b.ntf", "RPCs only", "gdalwarp -rpc -t_srs")
    assert not (tmp_path / "mask.tif").exists()


def test_rpcs_with_igeolo_corners_are_said_to_be_the_sensor_model(tmp_path, run_cli):
    """An L1B NITF's IGEOLO corners (the footprint, 'not for analytical purposes' in
    MIL-STD-2500C) give GDAL a grid beside its RPC00B: the warning names the RPCs and
    gdalwarp -rpc, not only the corners' rounding."""
    image = rpc_nitf(tmp_path, "l1b.ntf", ICORDS="G",
                     IGEOLO="523112N0132400E523112N0132402E523110N0132402E523110N0132400E")
    with rasterio.open(image) as src:
        assert not src.transform.is_identity and src.rpcs is not None
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    said = _warnings(result, "l1b.ntf")
    assert len(said) == 1 and "RPC00B" in said[0] and "gdalwarp -rpc" in said[0], said


def test_every_image_segment_is_reached_by_its_subdataset_name(tmp_path, run_cli):
    """Two image segments: the file reads the first and says how to read the second
    (NITF_IM:1:<file>), which predicts as its own GeoTIFF does."""
    _, image = nitf(tmp_path, "two.ntf", NUMI=2)
    second = PIXELS[::-1].copy()
    tif2 = write_raster(tmp_path / "second.tif", second, crs="EPSG:32633",
                        transform=from_origin(500100, 5000100, 0.5, 0.5))
    rasterio.shutil.copy(tif2, image, driver="NITF", APPEND_SUBDATASET="YES")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "first.tif")
    assert result.exit_code == 0, result.output
    said = [line for line in _warnings(result, "two.ntf") if "segments" in line]
    assert len(said) == 1 and "2 image segments" in said[0], result.stderr
    assert "the first (NITF_IM:0) is read (64x48 px, 3 bands)" in said[0], said[0]
    assert f"NITF_IM:1:{image}" in said[0], said[0]
    for source, output in ((f"NITF_IM:1:{image}", "second_ntf.tif"), (tif2, "second_tif.tif")):
        result = run_cli("predict", model, source, "-o", tmp_path / output)
        assert result.exit_code == 0, result.output
    said = _warnings(run_cli("predict", model, f"NITF_IM:1:{image}", "-o",
                             tmp_path / "again.tif"), "two.ntf (NITF_IM:1): its grid")
    assert len(said) == 1 and "ICORDS=N" in said[0], said
    np.testing.assert_array_equal(_read(tmp_path / "second_ntf.tif")[2],
                                  _read(tmp_path / "second_tif.tif")[2])
    with rasterio.open(f"NITF_IM:1:{image}") as src, \
            rasterio.open(tmp_path / "second_ntf.tif") as out:
        assert (out.crs, out.transform) == (src.crs, src.transform)


def test_11_bit_pixels_in_16_bit_are_advised_their_scale(tmp_path, run_cli):
    """ABPP=11 (a WorldView multispectral NITF) reads as NBITS=11: the advice is 1/2047, as
    for the GeoTIFF declaring it, and the predictions are the GeoTIFF's."""
    pixels = np.random.default_rng(5).integers(0, 2048, (4, 48, 64)).astype(np.uint16)
    tif, image = nitf(tmp_path, "ms.ntf", pixels=pixels, ABPP=11)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    advice = [line for line in result.stderr.splitlines() if "go to the model" in line]
    assert len(advice) == 1 and "NBITS=11" in advice[0] and f"{1 / 2047:.3g}" in advice[0]
    scaled = run_cli("predict", model, tif, "-o", tmp_path / "ref.tif", "--tile-size", "32",
                     "--scale", "1")
    assert scaled.exit_code == 0, scaled.output
    np.testing.assert_array_equal(_read(tmp_path / "p.tif")[2], _read(tmp_path / "ref.tif")[2])


def test_a_jpeg_compressed_nitf_predicts_its_decoded_pixels(tmp_path, run_cli):
    """IC=C3 (JPEG): the pixels GDAL decodes go to the model, on the NITF's grid."""
    _, image = nitf(tmp_path, "jpeg.ntf", ("EPSG:32633", from_origin(500000, 5000000, 10, 10)),
                    IC="C3")
    with rasterio.open(image) as src:
        assert src.tags()["NITF_IC"] == "C3"
        decoded = write_raster(tmp_path / "decoded.tif", src.read(), crs=src.crs,
                               transform=src.transform)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    for source, output in ((image, "jpeg_p.tif"), (decoded, "decoded_p.tif")):
        result = run_cli("predict", model, source, "-o", tmp_path / output)
        assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    got, expected = _read(tmp_path / "jpeg_p.tif"), _read(tmp_path / "decoded_p.tif")
    assert got[:2] == expected[:2]
    np.testing.assert_array_equal(got[2], expected[2])


def test_rpcs_with_corner_gcps_are_orthorectified_by_the_rpcs(tmp_path, run_cli):
    """An L1B NITF's footprint corners (IGEOLO) that no affine grid fits come as 4 GCPs
    beside its RPC00B: it was told 'GCPs only' and gdalwarp -t_srs (a warp by the 4
    approximate corners); now the RPCs and gdalwarp -rpc, and each patch keeps both."""
    image = rpc_nitf(tmp_path, "l1b.ntf", ICORDS="G",
                     IGEOLO="523115N0132400E523115N0132410E523100N0132420E523100N0132350E")
    with rasterio.open(image) as src:
        assert src.transform.is_identity and len(src.gcps[0]) == 4 and src.rpcs is not None
        rpcs = src.rpcs.to_dict()
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[shapely.box(13.4, 52.51, 13.41, 52.52)],
                           crs=4326).to_file(labels)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    predicted = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    tiled = run_cli("tile", image, "--size", "32", "-o", tmp_path / "tiles")
    for result in (predicted, tiled):
        assert result.exit_code == 0, result.output
        said = _warnings(result, "l1b.ntf")
        assert len(said) == 1 and "RPCs only" in said[0], said
        assert "gdalwarp -rpc -t_srs" in said[0], said[0]
    with rasterio.open(tmp_path / "tiles" / "images" / "l1b_1_1.tif") as patch:
        assert patch.rpcs is not None and len(patch.gcps[0]) == 4
        assert (patch.rpcs.line_off, patch.rpcs.samp_off) == (
            rpcs["line_off"] - 16, rpcs["samp_off"] - 32)
    masked = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(masked, "l1b.ntf", "RPCs only", "gdalwarp -rpc -t_srs")


def _rpcs_of(place, width=64, height=48):
    """RPCs that place each pixel where the grid ``place`` does (an orthorectified product
    that still carries RPC00B, fitted to its own map grid, as Maxar OR2A's are). RPC00B
    keeps offsets and scales to 4 decimals (whole pixels): the coefficients fit the grid."""
    from pyproj import Transformer

    crs, transform = place
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    west, north = to_lonlat.transform(*(transform * (0, 0)))
    east, south = to_lonlat.transform(*(transform * (width, height)))
    lon, lat = round((west + east) / 2, 4), round((north + south) / 2, 4)
    dx, dy = (east - west) / width, (north - south) / height
    # samp = (lon - west) / dx - 0.5, line = (north - lat) / dy - 0.5 (pixel centres)
    samp = [((lon - west) / dx - 0.5 - 32) / 32, 0.01 / dx / 32]
    line = [((north - lat) / dy - 0.5 - 24) / 24, -0.01 / dy / 24]
    return RPC(height_off=0, height_scale=500, lat_off=lat, lat_scale=0.01, long_off=lon,
               long_scale=0.01, line_off=24, line_scale=24, samp_off=32, samp_scale=32,
               line_den_coeff=[1] + [0] * 19, line_num_coeff=[line[0], 0, line[1]] + [0] * 17,
               samp_den_coeff=[1] + [0] * 19, samp_num_coeff=samp + [0] * 18)


def ortho_nitf(tmp_path, name, place, **options):
    """PIXELS on the map grid ``place`` with RPCs fitted to it, as the NITF ``name``."""
    crs, transform = place
    tif = write_raster(tmp_path / "ortho.tif", PIXELS, crs=crs, transform=transform)
    with rasterio.open(tif, "r+") as dst:
        dst.rpcs = _rpcs_of(place)
    rasterio.shutil.copy(tif, tmp_path / name, driver="NITF", **options)
    return tmp_path / name


def test_an_orthorectified_nitf_with_rpcs_is_not_told_to_orthorectify_again(
        tmp_path, run_cli):
    """An ortho product on a UTM grid (ICORDS=N, 0.5 m pixels) that still carries RPC00B
    fitted to that grid: its corners' whole metres may move it a pixel (said), but
    gdalwarp -rpc would warp the map-projected pixels a second time (not advised)."""
    image = ortho_nitf(tmp_path, "or2a.ntf", UTM)
    with rasterio.open(image) as src:
        assert src.rpcs is not None and src.crs.to_epsg() == 32633
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    said = _warnings(result, "or2a.ntf")
    assert len(said) == 1 and "IGEOLO" in said[0] and "gdalwarp -rpc" not in said[0], said
    tiled = run_cli("tile", image, "-o", tmp_path / "patches", "--size", "16")
    said = _warnings(tiled, "or2a.ntf")
    assert len(said) == 1 and "gdalwarp -rpc" not in said[0], said


def test_an_exact_grid_beside_rpcs_fitted_to_it_is_not_warned(tmp_path, run_cli):
    """Arc-second corners at ~110 m pixels (0.14 pixel at most) and RPCs that agree with
    them: nothing to say."""
    coarse = ("EPSG:4326", from_origin(13.4, 52.52, 1e-3, 1e-3))
    image = ortho_nitf(tmp_path, "coarse.ntf", coarse, ICORDS="G")
    with rasterio.open(image) as src:
        assert src.rpcs is not None and not src.transform.is_identity
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    assert _warnings(result, "coarse.ntf") == []
