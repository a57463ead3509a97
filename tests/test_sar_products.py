"""SAR products as delivered: an ASF HyP3 RTC product folder (<scene>_VV.tif, <scene>_VH.tif
beside its _ls_map, _inc_map, _rgb, _dem and _area rasters), float32 linear power with
nodata 0, through tile, make-masks and predict."""

from __future__ import annotations

import csv

import numpy as np
import rasterio

from .conftest import assert_one_line_error
from .onnx_models import pointwise_model, pointwise_reference

SCENE = "S1A_IW_20230101T000000_DVP_RTC30_G_gpuned_ABCD"
#: the rasters HyP3 ships beside a scene's polarisations (none of them backscatter)
HYP3_SIDECARS = ("ls_map", "inc_map", "rgb", "dem", "area")


def _hyp3_product(make_raster, tmp_path, folder: str = "rtc", size: int = 32) -> dict:
    """A HyP3 RTC product folder: VV and VH (float32 linear power, nodata 0, the first 4
    columns 0) and the side rasters; returns the polarisations' pixels by name."""
    (tmp_path / folder).mkdir()
    rng = np.random.default_rng(3)
    power = rng.gamma(2.0, 0.05, (2, size, size)).astype(np.float32)
    power[:, :, :4] = 0
    pixels = {}
    for name, values in zip(("VV", "VH"), power, strict=True):
        make_raster(f"{folder}/{SCENE}_{name}.tif", values, nodata=0)
        pixels[name] = values
    make_raster(f"{folder}/{SCENE}_ls_map.tif", np.zeros((size, size), np.uint8), nodata=0)
    make_raster(f"{folder}/{SCENE}_inc_map.tif", np.full((size, size), 0.6, np.float32))
    make_raster(f"{folder}/{SCENE}_rgb.tif", np.full((3, size, size), 90, np.uint8))
    make_raster(f"{folder}/{SCENE}_dem.tif", np.full((size, size), 120, np.float32))
    make_raster(f"{folder}/{SCENE}_area.tif", np.ones((size, size), np.float32))
    return pixels


def _sources(index) -> set[str]:
    with open(index, newline="") as f:
        return {row["source"] for row in csv.DictReader(f)}


def test_hyp3_folder_is_its_polarisations_not_its_side_rasters(make_raster, tmp_path,
                                                               run_cli):
    """tile rtc/ cut the layover/shadow map (all nodata), the incidence angles, the RGB
    browse, the DEM and the scattering area into training patches beside VV and VH (7
    sources, 28 patches at --size 16), exit 0."""
    _hyp3_product(make_raster, tmp_path)
    result = run_cli("tile", tmp_path / "rtc", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "out" / "index.csv") == {f"{SCENE}_VV.tif", f"{SCENE}_VH.tif"}


def test_opera_rtc_folder_is_its_polarisations_not_its_layover_shadow_mask(
        make_raster, tmp_path, run_cli):
    """An OPERA RTC-S1 burst folder (<id>_VV.tif, <id>_VH.tif, <id>_mask.tif: layover and
    shadow flags): tile cut the mask as a third image, predict opera/ --extra-bands opera/
    refused it ('<id>_mask.tif: no extra-bands raster(s) named <id>_mask.*')."""
    scene = "OPERA_L2_RTC-S1_T069-147170-IW1_20231012T010000Z_20231012T150000Z_S1A_30_v1.0"
    (tmp_path / "opera").mkdir()
    power = np.random.default_rng(7).gamma(2.0, 0.05, (2, 16, 16)).astype(np.float32)
    make_raster(f"opera/{scene}_VV.tif", power[0], nodata=0)
    make_raster(f"opera/{scene}_VH.tif", power[1], nodata=0)
    make_raster(f"opera/{scene}_mask.tif", np.zeros((16, 16), np.uint8), nodata=255)
    result = run_cli("tile", tmp_path / "opera", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "out" / "index.csv") == {f"{scene}_VV.tif", f"{scene}_VH.tif"}
    model = pointwise_model(tmp_path / "flood.onnx", channels=2, ir_version=10)
    result = run_cli("predict", model, tmp_path / "opera", "--extra-bands", tmp_path / "opera",
                     "--dtype", "float32", "-o", f"{tmp_path / 'floods'}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "floods" / f"{scene}_VV.tif") as out:
        np.testing.assert_allclose(out.read(1), pointwise_reference(
            power[np.newaxis].astype(np.float64), channels=2)[0, 0], atol=1e-5)


def test_hyp3_side_rasters_stay_inputs_when_given_without_the_scene(make_raster, tmp_path,
                                                                    run_cli):
    """A folder of incidence maps alone (no polarisation of their scene) is still read."""
    (tmp_path / "inc").mkdir()
    make_raster(f"inc/{SCENE}_inc_map.tif", np.full((16, 16), 0.6, np.float32))
    result = run_cli("tile", tmp_path / "inc", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "out" / "index.csv") == {f"{SCENE}_inc_map.tif"}


def test_hyp3_folder_as_its_own_extra_bands_pairs_vv_with_vh(make_raster, tmp_path,
                                                             run_cli):
    """predict flood.onnx rtc/ --extra-bands rtc/ (the product as delivered, one folder)
    was refused: '<scene>_VH.tif: no extra-bands raster(s) named <scene>_VH.*' (the VH
    listed as an image of its own). The VH is the VV's band 2: one output, the model's on
    (VV, VH), nodata where the image is 0."""
    pixels = _hyp3_product(make_raster, tmp_path)
    model = pointwise_model(tmp_path / "flood.onnx", channels=2, ir_version=10)
    result = run_cli("predict", model, tmp_path / "rtc", "--extra-bands", tmp_path / "rtc",
                     "--dtype", "float32", "-o", f"{tmp_path / 'floods'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "floods").glob("*.tif")) == [f"{SCENE}_VV.tif"]
    fed = np.stack([pixels["VV"], pixels["VH"]])[np.newaxis].astype(np.float64)
    expected = pointwise_reference(fed, channels=2)[0, 0]
    with rasterio.open(tmp_path / "floods" / f"{SCENE}_VV.tif") as out:
        got, valid = out.read(1), out.read_masks(1) > 0
    assert not valid[:, :4].any()
    np.testing.assert_allclose(got[:, 4:], expected[:, 4:], atol=1e-5)
    result = run_cli("tile", tmp_path / "rtc", "--extra-bands", tmp_path / "rtc", "--size",
                     32, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "patches" / "images" / f"{SCENE}_VV_0_0.tif") as patch:
        np.testing.assert_array_equal(patch.read(), fed[0].astype(np.float32))


def test_one_polarisation_for_a_dual_pol_model_names_its_partner(make_raster, tmp_path,
                                                                 run_cli):
    """predict flood.onnx <scene>_VV.tif for a VV+VH model said only 'or the missing 1
    from another raster with --extra-bands': the line names the scene's VH beside it and
    the one-file stack (gdalbuildvrt -separate)."""
    _hyp3_product(make_raster, tmp_path)
    model = pointwise_model(tmp_path / "flood.onnx", channels=2, ir_version=10)
    vv = tmp_path / "rtc" / f"{SCENE}_VV.tif"
    result = run_cli("predict", model, vv, "-o", tmp_path / "flood.tif")
    assert_one_line_error(result, f"--extra-bands {tmp_path / 'rtc' / SCENE}_VH.tif",
                          "gdalbuildvrt -separate")
    assert not (tmp_path / "flood.tif").exists()


def _sar_model(tmp_path, name, mean, std):
    """A VV+VH model whose Deepness metadata declares ``mean``/``std`` per channel."""
    return pointwise_model(tmp_path / name, channels=2, ir_version=10, metadata={
        "standardization_mean": mean, "standardization_std": std})


def test_linear_power_for_a_model_of_decibels_is_warned_with_the_conversion(
        make_raster, tmp_path, run_cli):
    """A model whose mean/std are Sen1Floods11's dB statistics (-10.4, -17.1 / 4.1, 4.6) given
    HyP3's linear power (0..0.5) was told 'its mean/std are for 0..255 pixels: give --scale
    255', which makes it worse. The warning says the mean is of dB and names the
    conversion (10*log10); the prediction is made as asked."""
    _hyp3_product(make_raster, tmp_path)
    model = _sar_model(tmp_path, "db.onnx", [-10.4, -17.1], [4.1, 4.6])
    result = run_cli("predict", model, tmp_path / "rtc", "--extra-bands", tmp_path / "rtc",
                     "-o", f"{tmp_path / 'floods'}/")
    assert result.exit_code == 0, result.output
    assert "--scale 255" not in result.stderr
    assert "dB" in result.stderr and "10*log10(A)" in result.stderr, result.stderr
    assert (tmp_path / "floods" / f"{SCENE}_VV.tif").exists()


def test_decibels_for_a_model_of_linear_power_is_warned_with_the_conversion(
        make_raster, tmp_path, run_cli):
    """A Sentinel Hub / Sen1Floods11 dB stack (-30..5, NaN nodata) given to a model whose mean
    is of linear power (0.08, 0.02) went in without a word, exit 0."""
    rng = np.random.default_rng(4)
    power = rng.gamma(2.0, 0.05, (2, 32, 32))
    decibels = (10 * np.log10(power)).astype(np.float32)
    decibels[:, :3] = np.nan
    image = make_raster("s1_db.tif", decibels, nodata=float("nan"))
    model = _sar_model(tmp_path, "linear.onnx", [0.08, 0.02], [0.1, 0.03])
    result = run_cli("predict", model, image, "-o", tmp_path / "flood.tif")
    assert result.exit_code == 0, result.output
    assert "dB" in result.stderr and "10**(A/10)" in result.stderr, result.stderr
    # a model of dB statistics takes them without a word about scales
    model = _sar_model(tmp_path, "db.onnx", [-10.4, -17.1], [4.1, 4.6])
    result = run_cli("predict", model, image, "-o", tmp_path / "flood_db.tif")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr, result.stderr


#: a Sentinel-1 GRD measurement file as a .SAFE's measurement/ folder holds it
GRD_NAME = "s1a-iw-grd-vv-20230101t051234-20230101t051259-046589-0595a1-001.tiff"


def _grd(tmp_path, name: str = GRD_NAME):
    """A GRD measurement TIFF: uint16 amplitude placed by GCPs only (no CRS on the grid), no
    nodata declared, its first 6 columns 0 (the border ESA's products set to 0, no data)."""
    from rasterio.control import GroundControlPoint
    from rasterio.crs import CRS

    amplitude = np.random.default_rng(6).integers(20, 900, (32, 32)).astype(np.uint16)
    amplitude[:, :6] = 0
    (tmp_path / "measurement").mkdir(exist_ok=True)
    path = tmp_path / "measurement" / name
    gcps = [GroundControlPoint(row=r, col=c, x=15 + c * 1e-4, y=45 - r * 1e-4, z=0)
            for r in (0, 16, 31) for c in (0, 16, 31)]
    with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=1,
                       dtype="uint16") as dst:
        dst.gcps = (gcps, CRS.from_epsg(4326))
        dst.write(amplitude, 1)
    return path, amplitude, gcps


def test_grd_measurement_zero_border_is_nodata_and_its_gcps_stay(tmp_path, run_cli):
    """A Sentinel-1 GRD measurement TIFF declares no nodata, but its products fill the
    border with 0 (no data): predict fed the zeros to the model and wrote class 1 there
    (192 pixels of the 6 border columns), tile counted them as data (nodata_fraction 0).
    They are nodata now, the GCP-only warning as before and the GCPs kept."""
    image, amplitude, gcps = _grd(tmp_path)
    model = pointwise_model(tmp_path / "ships.onnx", channels=1, ir_version=10)
    result = run_cli("predict", model, image, "--scale", "0.001", "--output-type", "class",
                     "--threshold", "0.0", "-o", tmp_path / "ships.tif")
    assert result.exit_code == 0, result.output
    assert f"{GRD_NAME}: georeferenced by GCPs only" in result.stderr, result.stderr
    expected = pointwise_reference(amplitude[np.newaxis, np.newaxis] * 0.001)[0, 0] > 0.0
    with rasterio.open(tmp_path / "ships.tif") as out:
        classes, valid = out.read(1), out.read_masks(1) > 0
        assert [(g.row, g.col, g.x, g.y) for g in out.gcps[0]] == \
            [(g.row, g.col, g.x, g.y) for g in gcps]
    assert not valid[:, :6].any() and valid[:, 6:].all()
    np.testing.assert_array_equal(classes[:, 6:], expected[:, 6:].astype(np.uint8))
    result = run_cli("tile", image, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    assert f"{GRD_NAME}: georeferenced by GCPs only" in result.stderr, result.stderr
    with open(tmp_path / "patches" / "index.csv", newline="") as f:
        fractions = {row["col"]: float(row["nodata_fraction"]) for row in csv.DictReader(f)}
    assert fractions == {"0": 6 / 16, "1": 0.0}


def test_a_grd_copy_of_other_values_keeps_its_zeros(tmp_path, run_cli):
    """Only the product's own file (its name, uint16, GCPs, no nodata declared) takes
    nodata 0: the same pixels under another name are read as they are."""
    image, _, _ = _grd(tmp_path, "grd_copy.tif")
    result = run_cli("tile", image, "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "patches" / "index.csv", newline="") as f:
        assert {float(row["nodata_fraction"]) for row in csv.DictReader(f)} == {0.0}


def test_one_grd_polarisation_for_a_dual_pol_model_names_its_partner(tmp_path, run_cli):
    """A GRD's -vv- measurement file for a VV+VH model was told only '--extra-bands': the
    line names the datatake's -vh- file beside it (its own file number, -002), and no
    gdalbuildvrt stack, which drops their GCPs (GDAL 3.6: a 2-band VRT placed nowhere)."""
    image, _, _ = _grd(tmp_path)
    partner = _grd(tmp_path, GRD_NAME.replace("-vv-", "-vh-").replace("-001.", "-002."))[0]
    model = pointwise_model(tmp_path / "ships.onnx", channels=2, ir_version=10)
    result = run_cli("predict", model, image, "-o", tmp_path / "ships.tif")
    assert_one_line_error(result, f"add --extra-bands {partner}")
    assert "gdalbuildvrt" not in result.stderr
    result = run_cli("predict", model, image, "--extra-bands", partner, "-o",
                     tmp_path / "ships.tif")
    assert result.exit_code == 0, result.output


def test_hyp3_pattern_with_its_folder_as_extra_bands_pairs_vv_with_vh(make_raster, tmp_path,
                                                                      run_cli):
    """'rtc/*.tif' --extra-bands rtc/ (a quoted pattern, dB products _VV_dB/_VH_dB) is the
    folder form: each _VV_dB takes its _VH_dB, which is no image of its own."""
    (tmp_path / "rtc").mkdir()
    stems = {}
    for day in ("20230101", "20230113"):
        scene = f"S1A_IW_{day}T000000_DVP_RTC30_G_dpuned_ABCD"
        decibels = np.random.default_rng(int(day)).normal(-12, 3, (2, 16, 16))
        for pol, values in zip(("VV", "VH"), decibels.astype(np.float32), strict=True):
            make_raster(f"rtc/{scene}_{pol}_dB.tif", values, nodata=float("nan"))
        stems[f"{scene}_VV_dB"] = decibels
    result = run_cli("tile", str(tmp_path / "rtc" / "*.tif"), "--extra-bands",
                     tmp_path / "rtc", "--size", 16, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "patches" / "index.csv") == {f"{s}.tif" for s in stems}
    for stem, values in stems.items():
        with rasterio.open(tmp_path / "patches" / "images" / f"{stem}_0_0.tif") as patch:
            np.testing.assert_array_equal(patch.read(), values.astype(np.float32))


def test_float_images_that_are_no_backscatter_are_not_told_of_decibels(make_raster, tmp_path,
                                                                       run_cli):
    """The dB/linear-power warning read any float image against any mean of one sign: an
    NDVI model (mean 0.3) given a water scene (median -0.2), an elevation model (mean 120 m)
    given a coast below sea level (median -1.7), a temperature model (mean 5) given winter
    (median -6) were told 'backscatter in dB? convert 10**(A/10)', and reflectance for a
    model whose mean is a custom shift (-0.5) 'linear power or amplitude? 10*log10(A)'.
    Means of dB (-50..-1) and of linear power (0..1) against dB pixels (median below -1)
    still warn, exit 0 either way."""
    rng = np.random.default_rng(8)
    cases = {
        "ndvi": ([0.3], [0.2], rng.uniform(-0.6, 0.2, (32, 32)), False),
        "shifted": ([-0.5], [0.5], rng.uniform(0, 1, (32, 32)), False),
        "elevation": ([120.0], [50.0], rng.uniform(-6, 3, (32, 32)), False),
        "temperature": ([5.0], [8.0], rng.uniform(-15, 2, (32, 32)), False),
        "linear_for_db": ([-10.4], [4.1], rng.gamma(2.0, 0.05, (32, 32)), True),
        "db_for_linear": ([0.08], [0.1], 10 * np.log10(rng.gamma(2.0, 0.05, (32, 32))), True),
    }
    for name, (mean, std, pixels, warned) in cases.items():
        model = pointwise_model(tmp_path / f"{name}.onnx", channels=1, ir_version=10,
                                metadata={"standardization_mean": mean,
                                          "standardization_std": std})
        image = make_raster(f"{name}.tif", pixels.astype(np.float32))
        result = run_cli("predict", model, image, "-o", tmp_path / f"{name}_out.tif")
        assert result.exit_code == 0, result.output
        assert ("dB" in result.stderr) == warned, (name, result.stderr)


def test_a_non_sar_folder_keeps_rasters_named_like_rtc_side_rasters(make_raster, tmp_path,
                                                                    run_cli):
    """A drone survey folder (site_rgb.tif orthophoto, site_dem.tif, site_HH.tif hedge
    heights): tile cut only site_HH.tif, the orthophoto and DEM left out silently as 'HyP3
    side rasters' of a scene named site. A scene counts as SAR by a Sentinel-1/OPERA
    product name or both polarisations of a pair beside each other; a HyP3 VV-only
    product and a renamed dual-pol one still leave theirs out."""
    rng = np.random.default_rng(9)
    (tmp_path / "drone").mkdir()
    make_raster("drone/site_rgb.tif", rng.integers(0, 256, (3, 16, 16), dtype=np.uint8))
    make_raster("drone/site_dem.tif", rng.uniform(200, 210, (16, 16)).astype(np.float32))
    make_raster("drone/site_HH.tif", rng.uniform(0, 3, (16, 16)).astype(np.float32))
    result = run_cli("tile", tmp_path / "drone", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "out" / "index.csv") == {"site_rgb.tif", "site_dem.tif",
                                                        "site_HH.tif"}
    (tmp_path / "sar").mkdir()
    power = rng.gamma(2.0, 0.05, (2, 16, 16)).astype(np.float32)
    make_raster(f"sar/{SCENE}_VV.tif", power[0])  # single-polarisation HyP3 product
    make_raster(f"sar/{SCENE}_ls_map.tif", np.zeros((16, 16), np.uint8))
    make_raster("sar/flood_VV.tif", power[0])  # a renamed dual-pol product
    make_raster("sar/flood_VH.tif", power[1])
    make_raster("sar/flood_inc_map.tif", np.full((16, 16), 0.6, np.float32))
    result = run_cli("tile", tmp_path / "sar", "--size", 16, "-o", tmp_path / "sar_out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "sar_out" / "index.csv") == {
        f"{SCENE}_VV.tif", "flood_VV.tif", "flood_VH.tif"}


def test_rtc_browse_images_are_no_images_of_the_folder(make_raster, tmp_path, run_cli):
    """A HyP3 product as unzipped holds its browse and thumbnail PNGs (<scene>.png,
    _thumb.png, _rgb.png, _rgb_thumb.png), an OPERA burst its _BROWSE.png: tile rtc/ cut
    three of them into patches in pixel coordinates beside VV and VH, and predict rtc/
    --extra-bands rtc/ was refused ('7 extra-bands raster(s) named <scene>.*'). They are
    left out like the side rasters."""
    import rasterio

    pixels = _hyp3_product(make_raster, tmp_path)
    opera = "OPERA_L2_RTC-S1_T069-147170-IW1_20231012T010000Z_20231012T150000Z_S1A_30_v1.0"
    (tmp_path / "opera").mkdir()
    make_raster(f"opera/{opera}_VV.tif", pixels["VV"], nodata=0)
    browses = {f"rtc/{SCENE}.png": 1, f"rtc/{SCENE}_thumb.png": 1, f"rtc/{SCENE}_rgb.png": 3,
               f"rtc/{SCENE}_rgb_thumb.png": 3, f"opera/{opera}_BROWSE.png": 1}
    for name, count in browses.items():
        with rasterio.open(tmp_path / name, "w", driver="PNG", width=32, height=32,
                           count=count, dtype="uint8") as png:
            png.write(np.full((count, 32, 32), 100, np.uint8))
    result = run_cli("tile", tmp_path / "rtc", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "out" / "index.csv") == {f"{SCENE}_VV.tif", f"{SCENE}_VH.tif"}
    result = run_cli("tile", tmp_path / "opera", "--size", 16, "-o", tmp_path / "opera_out")
    assert result.exit_code == 0, result.output
    assert _sources(tmp_path / "opera_out" / "index.csv") == {f"{opera}_VV.tif"}
    model = pointwise_model(tmp_path / "flood.onnx", channels=2, ir_version=10)
    result = run_cli("predict", model, tmp_path / "rtc", "--extra-bands",
                     tmp_path / "rtc", "-o", f"{tmp_path / 'floods'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "floods").glob("*.tif")) == [f"{SCENE}_VV.tif"]
