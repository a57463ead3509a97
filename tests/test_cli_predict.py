"""`geotile predict` on the command line."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import UTM_ORIGIN, assert_one_line_error, write_garbled_jpeg
from .onnx_models import pointwise_model, pointwise_reference


def test_predict_several_images_into_a_folder(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    a = make_raster("a.tif", np.zeros((3, 50, 60), np.uint8))
    b = make_raster("b.tif", np.full((3, 40, 30), 200, np.uint8))
    result = run_cli("-v", "predict", model, a, b, "-o", tmp_path / "out", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    # -v describes the model: the provider auto chose (CUDA where usable), layout, size
    assert re.search(r"m\.onnx: (CPU|CUDA|Tensorrt)ExecutionProvider, NCHW, 3 channels",
                     result.stderr)
    for name, shape in (("a.tif", (50, 60)), ("b.tif", (40, 30))):
        with rasterio.open(tmp_path / "out" / name) as dst:
            assert dst.shape == shape


def test_verbose_says_the_windows_it_chose(run_cli, make_raster, tmp_path):
    """README: -v explains what predict does, sizes included: the window size, overlap and
    batch it took (here the defaults for a dynamic model: 512 px, 25 %, 0.5 MP per batch)."""
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("a.tif", np.zeros((3, 600, 700), np.uint8))
    result = run_cli("-v", "predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    assert ("a.tif: 2 x 2 windows of 512 px, overlap 128 px, 2 per batch, bilinear blend"
            in result.stderr), result.stderr
    result = run_cli("-v", "predict", model, image, "-o", tmp_path / "q.tif",
                     "--tile-size", "256", "--overlap", "0.5", "--tta", "flip")
    assert ("a.tif: 4 x 5 windows of 256 px, overlap 128 px, 8 per batch, bilinear blend, "
            "tta flip" in result.stderr), result.stderr
    assert "windows of" not in run_cli("predict", model, image, "-o", tmp_path / "r.tif").stderr
    right = make_raster("b.tif", np.zeros((3, 600, 700), np.uint8),
                        transform=from_origin(UTM_ORIGIN[0] + 350, UTM_ORIGIN[1], 0.5, 0.5))
    result = run_cli("-v", "predict", model, image, right, "--mosaic", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert ("b.tif: 2 x 4 windows of the mosaic of 512 px, overlap 128 px, 2 per batch"
            in result.stderr), result.stderr


def test_verbose_says_the_batch_the_model_really_runs(run_cli, make_raster, tmp_path):
    # '64 per batch' for a model whose batch is fixed at 1, and for 9 windows in all
    image = make_raster("a.tif", np.zeros((3, 64, 64), np.uint8))
    fixed = pointwise_model(tmp_path / "one.onnx", size=32, batch=1)
    result = run_cli("-v", "predict", fixed, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    assert "a.tif: 3 x 3 windows of 32 px, overlap 8 px, 1 per batch" in result.stderr, \
        result.stderr
    dynamic = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("-v", "predict", dynamic, image, "-o", tmp_path / "q.tif",
                     "--tile-size", "32", "--batch-size", "64")
    assert result.exit_code == 0, result.output
    assert "a.tif: 3 x 3 windows of 32 px, overlap 8 px, 9 per batch" in result.stderr, \
        result.stderr


def test_a_batch_checks_every_images_bands_before_the_first(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    a = make_raster("a.tif", np.zeros((3, 40, 40), np.uint8))
    pan = make_raster("z_pan.tif", np.zeros((1, 40, 40), np.uint8))
    assert_one_line_error(run_cli("predict", model, a, pan, "-o", tmp_path / "out",
                                  "--tile-size", "32"), "z_pan.tif", "--bands 1,1,1")
    assert not (tmp_path / "out" / "a.tif").exists()



@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
@pytest.mark.parametrize("case", ["complex", "60 m pixels"])
def test_a_batch_refuses_an_image_the_model_cannot_take_before_the_first(
        run_cli, make_raster, tmp_path, case, workers):
    """4 images, the 3rd of complex pixels (SAR) or of 60 m pixels for --model-resolution
    0.5 (120x): 2 predictions were written (--workers: 3) before its one-line refusal; its
    header says so before any is predicted now."""
    from rasterio.transform import from_origin

    from .conftest import UTM_ORIGIN

    model = pointwise_model(tmp_path / "m.onnx")
    pixels = np.full((3, 40, 40), 50, np.uint8)
    images, args = [], ["--tile-size", "32"]
    for i in range(4):
        bad, pixel = i == 2, 0.5
        if case == "complex":
            image = pixels.astype(np.complex64) if bad else pixels
        else:
            image, pixel = pixels, 60 if bad else 0.5
        images.append(make_raster(f"t{i}.tif", image, transform=from_origin(
            UTM_ORIGIN[0] + 100 * i, UTM_ORIGIN[1], pixel, pixel)))
    if case != "complex":
        args += ["--model-resolution", "0.5"]
    out = tmp_path / "out"
    result = run_cli("predict", model, *images, "-o", out, *args, *workers)
    fragment = "complex pixels" if case == "complex" else "resample its 60 m pixels 120x"
    assert_one_line_error(result, "t2.tif", fragment)
    assert not out.exists() or list(out.iterdir()) == []

def test_bad_inputs(run_cli, make_raster, real_data, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    pan = make_raster("pan.tif", np.zeros((1, 20, 20), np.uint16))
    assert_one_line_error(run_cli("predict", model, pan, "-o", tmp_path / "o.tif"),
                          "pan.tif", "--bands 1,1,1")
    assert_one_line_error(run_cli("predict", tmp_path / "none.onnx", pan, "-o",
                                  tmp_path / "o.tif"), "none.onnx", "no such model file")
    too_new = pointwise_model(tmp_path / "new.onnx", ir_version=14)
    assert_one_line_error(run_cli("predict", too_new, pan, "-o", tmp_path / "o.tif"),
                          "new.onnx", "IR version 14")
    assert_one_line_error(run_cli("predict", model, real_data / "rasterio" / "corrupt.tif",
                                  "-o", tmp_path / "o.tif"), "corrupt.tif", "cannot be read")
    assert_one_line_error(run_cli("predict", model, pan, "--bands", "1,2,3", "-o",
                                  tmp_path / "o.tif"), "band 2 does not exist")
    assert not (tmp_path / "o.tif").exists()


def test_a_node_onnx_runtime_has_no_kernel_for_names_it_and_the_fix(run_cli, make_raster,
                                                                   tmp_path):
    """A Mask2Former exported at a fixed 512 px (torch.onnx.export, opset 17) had a
    GridSample node ONNX Runtime 1.31 has no kernel for (its dynamic export loads): the
    refusal passed on "NOT_IMPLEMENTED : Could not find an implementation for
    GridSample(16) node ..." with no way out. It names the op and its opset, the installed
    ONNX Runtime, and the fix (re-export, another onnxruntime)."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["batch", 3, "height", "width"]
    nodes = [helper.make_node("Cast", ["pixel_values"], ["wide"], to=TensorProto.DOUBLE),
             helper.make_node("Erf", ["wide"], ["erf"], name="/decoder/Erf"),
             helper.make_node("Cast", ["erf"], ["logits"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(
        nodes, "no_kernel",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, dims)])
    model = tmp_path / "no_kernel.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), model)
    image = make_raster("img.tif", np.zeros((3, 32, 32), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "no_kernel.onnx", "Erf (opset 13)", "no implementation",
                          "/decoder/Erf", "Re-export", "onnxruntime")
    assert not (tmp_path / "o.tif").exists()


def test_an_image_with_too_few_bands_is_told_so(run_cli, make_raster, tmp_path):
    """3 (12) bands for a 4 (13) channel model: the refusal said "e.g. --bands 1,2,3,4", a
    band the image lacks. It now says what the image has and the model takes, and names
    --extra-bands, never a band number that does not exist; also with --bands."""
    cases = ((3, 4, ()), (12, 13, ()), (3, 4, ("--bands", "1,2")), (2, 5, ("--extra-bands",)))
    for bands, channels, args in cases:
        model = pointwise_model(tmp_path / f"m{channels}.onnx", channels=channels)
        image = make_raster(f"img{bands}.tif", np.zeros((bands, 20, 20), np.uint8))
        if args == ("--extra-bands",):
            args = ("--extra-bands", make_raster("one.tif", np.zeros((1, 20, 20), np.uint8)))
        result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", *args)
        assert_one_line_error(result, f"img{bands}.tif", f"has {bands} bands",
                              f"takes {channels} channels", "--extra-bands")
        assert f"--bands {','.join(map(str, range(1, bands + 2)))}" not in result.stderr
        assert not (tmp_path / "o.tif").exists()


def test_existing_output_is_kept(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    out = tmp_path / "o.tif"
    out.write_bytes(b"old")
    assert_one_line_error(run_cli("predict", model, image, "-o", out), "o.tif", "--overwrite")
    assert out.read_bytes() == b"old"
    assert run_cli("predict", model, image, "-o", out, "--overwrite").exit_code == 0


def test_uint8_outputs_with_a_mask_print_no_gdal_errors(run_cli, make_raster, tmp_path, capfd):
    """uint8 probabilities of images with nodata get an internal mask, written block row by
    block row with the bands: GDAL's compression threads (GDAL 3.10) then read the bands'
    ExtraSamples from freed memory and print 'ERROR 1: ... Bad value N for "ExtraSamples"
    tag' (intermittently) straight to stderr. Nothing but geotile's own lines there, and the
    values and mask are those of a float32 run."""
    rng = np.random.default_rng(5)
    images = []
    for i in range(4):
        pixels = rng.integers(1, 255, (3, 600, 640)).astype("uint8")
        pixels[:, :, : 40 + 30 * i] = 0  # a nodata collar
        images.append(make_raster(f"img{i}.tif", pixels, nodata=0))
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    capfd.readouterr()
    result = run_cli("-q", "predict", model, *images, "-o", tmp_path / "u8", "--dtype", "uint8",
                     "--tile-size", "128", "--co", "BLOCKXSIZE=128", "--co", "BLOCKYSIZE=128")
    assert result.exit_code == 0, result.output
    assert "ERROR" not in capfd.readouterr().err
    result = run_cli("-q", "predict", model, *images, "-o", tmp_path / "f32", "--tile-size",
                     "128")
    assert result.exit_code == 0, result.output
    for i in range(4):
        with rasterio.open(tmp_path / "u8" / f"img{i}.tif") as u8, \
                rasterio.open(tmp_path / "f32" / f"img{i}.tif") as f32:
            expected = f32.read()
            valid = np.isfinite(expected[0])
            np.testing.assert_array_equal(u8.dataset_mask() > 0, valid)
            assert not valid[:, : 40 + 30 * i].any() and valid[:, 40 + 30 * i :].all()
            np.testing.assert_allclose(u8.read()[:, valid] / 255, expected[:, valid],
                                       atol=0.5 / 255 + 1e-6)


def _paletted(make_raster, name, colours, nodata=None):
    """A one-band image of colour-table indices (what PNG/GIF exports of maps hold)."""
    indices = np.random.default_rng(3).integers(0, len(colours), (40, 50)).astype(np.uint8)
    path = make_raster(name, indices, nodata=nodata, photometric="palette")
    with rasterio.open(path, "r+") as dst:
        dst.write_colormap(1, dict(enumerate(colours)))
    return path, indices


def test_paletted_image_feeds_its_colours(run_cli, make_raster, tmp_path):
    """A paletted image's band holds colour-table indices: an RGB model gets the colours
    (as gdal_translate -expand rgb gives them), streamed by windows; a nodata index is
    nodata in the output. Indices repeated 3x (the old --bands 1,1,1 hint) were no image."""
    colours = [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (250, 250, 250, 255)]
    path, indices = _paletted(make_raster, "pal.tif", colours, nodata=3)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, path, "-o", tmp_path / "o.tif", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    rgb = np.array([c[:3] for c in colours], np.float32)[indices].transpose(2, 0, 1)
    expected = pointwise_reference(rgb[np.newaxis] / 255)[0, 0]
    with rasterio.open(tmp_path / "o.tif") as out, rasterio.open(path) as src:
        values = out.read(1)
        assert out.transform == src.transform and out.crs == src.crs
    assert np.isnan(values[indices == 3]).all()
    np.testing.assert_allclose(values[indices != 3], expected[indices != 3], atol=1e-5)
    two = pointwise_model(tmp_path / "two.onnx", channels=2)
    result = run_cli("predict", two, path, "-o", tmp_path / "t.tif")
    assert_one_line_error(result, "pal.tif", "colour-table indices", "2 channels")
    assert "--bands 1,1" not in result.stderr and not (tmp_path / "t.tif").exists()
    assert_one_line_error(run_cli("predict", model, path, "--mosaic", "-o",
                                  f"{tmp_path / 'mos'}/"), "pal.tif", "paletted", "-expand rgb")
    assert not list((tmp_path / "mos").glob("*"))


def test_paletted_image_and_a_one_channel_model(run_cli, make_raster, tmp_path):
    """A grey colour table gives its grey levels; a coloured one feeds indices, which are no
    intensities: said, with the fix."""
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    grey = [(g, g, g, 255) for g in (0, 90, 180, 255)]
    path, indices = _paletted(make_raster, "grey.tif", grey)
    result = run_cli("predict", model, path, "-o", tmp_path / "g.tif", "--tile-size", 32)
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    levels = np.array([c[0] for c in grey], np.float32)[indices]
    expected = pointwise_reference(levels[np.newaxis, np.newaxis] / 255, channels=1)[0, 0]
    with rasterio.open(tmp_path / "g.tif") as out:
        np.testing.assert_allclose(out.read(1), expected, atol=1e-5)
    path, _ = _paletted(make_raster, "pal.tif", [(255, 0, 0, 255), (0, 0, 255, 255)])
    result = run_cli("predict", model, path, "-o", tmp_path / "p.tif", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and "pal.tif" in warned[0] and "colour-table indices" in warned[0]
    assert "gdal_translate -expand rgb" in warned[0]


def test_paletted_image_with_a_band_repeated(run_cli, make_raster, tmp_path):
    """--bands 1,1,1 (the grey image's hint) on a coloured paletted image fed the red of its
    colours three times, neither its indices nor its colours: refused, naming the fix. A
    grey colour table's levels repeated are its grey image, as asked."""
    model = pointwise_model(tmp_path / "m.onnx")
    colours = [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)]
    path, _ = _paletted(make_raster, "pal.tif", colours)
    result = run_cli("predict", model, path, "--bands", "1,1,1", "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "pal.tif", "colour-table indices", "--bands 1,1,1",
                          "leave out --bands")
    assert not (tmp_path / "p.tif").exists()
    grey = [(g, g, g, 255) for g in (0, 90, 180)]
    path, indices = _paletted(make_raster, "grey.tif", grey)
    result = run_cli("predict", model, path, "--bands", "1,1,1", "-o", tmp_path / "g.tif")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    levels = np.array([c[0] for c in grey], np.float32)[indices]
    expected = pointwise_reference(np.stack([levels] * 3)[np.newaxis] / 255)[0, 0]
    with rasterio.open(tmp_path / "g.tif") as out:
        np.testing.assert_allclose(out.read(1), expected, atol=1e-5)


def test_scale_and_offset_declared_by_the_raster_are_named(run_cli, make_raster, tmp_path):
    """Landsat C2 L2 declares reflectance = DN * 2.75e-05 - 0.2 as GDAL band scale/offset:
    the warning about raw 16-bit pixels names them and the flags that apply them (the mean
    is the negated offset, plus the model's own mean), which give exactly those values."""
    pixels = np.random.default_rng(4).integers(7273, 43636, (3, 40, 50)).astype(np.uint16)
    image = make_raster("lc09.tif", pixels)
    with rasterio.open(image, "r+") as dst:
        dst.scales, dst.offsets = (2.75e-05,) * 3, (-0.2,) * 3
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "raw.tif", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and "lc09.tif" in warned[0], result.stderr
    assert "scale 2.75e-05 and offset -0.2" in warned[0]
    flags = re.search(r"give (--scale \S+ --mean \S+)", warned[0]).group(1).split()
    assert flags == ["--scale", "2.75e-05", "--mean", "0.2"]
    result = run_cli("predict", model, image, "-o", tmp_path / "refl.tif", "--tile-size", 32,
                     *flags)
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    reflectance = pixels.astype(np.float64) * 2.75e-05 - 0.2
    with rasterio.open(tmp_path / "refl.tif") as out:
        np.testing.assert_allclose(out.read(1), pointwise_reference(reflectance[None])[0, 0],
                                   atol=1e-5)
    standardised = pointwise_model(tmp_path / "s.onnx", metadata={
        "standardization_mean": [0.1, 0.2, 0.3], "standardization_std": [0.5, 0.5, 0.5]})
    result = run_cli("predict", standardised, image, "-o", tmp_path / "s.tif", "--tile-size", 32)
    assert "--scale 2.75e-05 --mean 0.3,0.4,0.5" in result.stderr, result.stderr
    with rasterio.open(image, "r+") as dst:  # one --scale cannot say per-band scales
        dst.scales = (2.75e-05, 1e-04, 2.75e-05)
    result = run_cli("predict", model, image, "-o", tmp_path / "m.tif", "--tile-size", 32)
    assert "scale 2.75e-05,0.0001 and offset -0.2" in result.stderr, result.stderr
    assert "gdal_translate -unscale -ot Float32" in result.stderr


def _mosaic_vrt(path, tiles, size, nodata=None, alpha=False):
    """A VRT of ``tiles`` ({(col, row): GeoTIFF}), each ``size`` px, placed by DstRect as
    gdalbuildvrt writes them (a band nodata value when given; their last band alpha with
    ``alpha``, as gdalbuildvrt of gdalwarp -dstalpha's)."""
    with rasterio.open(next(iter(tiles.values()))) as first:
        crs, transform, count = first.crs, first.transform, first.count
        data_type = {"uint8": "Byte", "int16": "Int16", "float32": "Float32"}[first.dtypes[0]]
    cols = 1 + max(c for c, _ in tiles)
    rows = 1 + max(r for _, r in tiles)
    bands = []
    for band in range(1, count + 1):
        sources = "".join(
            f"<SimpleSource><SourceFilename>{tile}</SourceFilename><SourceBand>{band}"
            f'</SourceBand><SrcRect xOff="0" yOff="0" xSize="{size}" ySize="{size}"/>'
            f'<DstRect xOff="{c * size}" yOff="{r * size}" xSize="{size}" ySize="{size}"/>'
            "</SimpleSource>" for (c, r), tile in tiles.items())
        value = f"<NoDataValue>{nodata}</NoDataValue>" if nodata is not None else ""
        if alpha and band == count:
            value += "<ColorInterp>Alpha</ColorInterp>"
        bands.append(f'<VRTRasterBand dataType="{data_type}" band="{band}">{value}{sources}'
                     "</VRTRasterBand>")
    path.write_text(f'<VRTDataset rasterXSize="{cols * size}" rasterYSize="{rows * size}">'
                    f"<SRS>{crs.to_wkt()}</SRS><GeoTransform>"
                    f"{', '.join(map(str, transform.to_gdal()))}</GeoTransform>"
                    f"{''.join(bands)}</VRTDataset>")
    return path


def test_vrt_with_a_gap_between_its_sources_is_said(run_cli, make_raster, tmp_path):
    """A VRT of 3 of 4 tiles, without nodata or alpha: GDAL reads the missing quadrant as
    valid 0s, which get predictions. Said, with its share and the fix; not said for a VRT
    that covers its extent, nor for one whose nodata value masks the gap (NaN there)."""
    from affine import Affine

    from .conftest import UTM_ORIGIN

    tiles = {}
    for c, r in ((0, 0), (1, 0), (0, 1), (1, 1)):
        origin = Affine.translation(UTM_ORIGIN[0] + c * 10, UTM_ORIGIN[1] - r * 10)
        tiles[c, r] = make_raster(f"t{c}{r}.tif", np.full((3, 20, 20), 100, np.uint8),
                                  transform=origin * Affine.scale(0.5, -0.5))
    model = pointwise_model(tmp_path / "m.onnx")
    three = {k: v for k, v in tiles.items() if k != (1, 1)}
    gap = _mosaic_vrt(tmp_path / "gap.vrt", three, 20)
    result = run_cli("predict", model, gap, "-o", tmp_path / "gap.tif", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1, result.stderr
    assert "gap.vrt" in warned[0] and "25 %" in warned[0] and "-addalpha" in warned[0]
    for name, vrt in (("full", _mosaic_vrt(tmp_path / "full.vrt", tiles, 20)),
                      ("nd", _mosaic_vrt(tmp_path / "nd.vrt", three, 20, nodata=0))):
        result = run_cli("predict", model, vrt, "-o", tmp_path / f"{name}.tif",
                         "--tile-size", 32)
        assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    with rasterio.open(tmp_path / "nd.tif") as out:
        values = out.read(1)
    assert np.isnan(values[20:, 20:]).all() and np.isfinite(values[:20]).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_vrt_whose_alpha_masks_its_gap_is_not_said_to_lack_one(run_cli, make_raster, tmp_path,
                                                                dtype):
    """A VRT of 3 of 4 RGB+NIR+alpha (or value+alpha) tiles: the alpha band, which GDAL's
    mask leaves out, is 0 in the gap, so the gap is nodata; it was said to declare 'no
    nodata or alpha'. Without the alpha band the gap is still said (valid 0s, or a float's)."""
    from affine import Affine

    from .conftest import UTM_ORIGIN

    count = 5 if dtype == np.uint8 else 2
    pixels = np.full((count, 20, 20), 100, dtype)
    pixels[-1] = np.iinfo(dtype).max if dtype != np.float32 else 1
    tiles, plain = {}, {}
    for c, r in ((0, 0), (1, 0), (0, 1)):
        origin = Affine.translation(UTM_ORIGIN[0] + c * 10, UTM_ORIGIN[1] - r * 10)
        tiles[c, r] = make_raster(f"t{c}{r}.tif", pixels, photometric="MINISBLACK",
                                  transform=origin * Affine.scale(0.5, -0.5))
        plain[c, r] = make_raster(f"p{c}{r}.tif", pixels[:-1], photometric="MINISBLACK",
                                  transform=origin * Affine.scale(0.5, -0.5))
    model = pointwise_model(tmp_path / "m.onnx", channels=count - 1)
    vrt = _mosaic_vrt(tmp_path / "gap.vrt", tiles, 20, alpha=True)
    with rasterio.open(vrt) as src:
        assert src.colorinterp[-1] == rasterio.enums.ColorInterp.alpha
    result = run_cli("predict", model, vrt, "-o", tmp_path / "gap.tif", "--tile-size", 32,
                     "--scale", "0.01")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    with rasterio.open(tmp_path / "gap.tif") as out:
        values = out.read(1)
    assert np.isnan(values[20:, 20:]).all() and np.isfinite(values[:20]).all()
    result = run_cli("predict", model, _mosaic_vrt(tmp_path / "plain.vrt", plain, 20), "-o",
                     tmp_path / "plain.tif", "--tile-size", 32, "--scale", "0.01")
    assert result.exit_code == 0, result.output
    assert "25 %" in result.stderr and "-addalpha" in result.stderr, result.stderr


def test_class_output_options_that_would_change_nothing_are_refused(run_cli, make_raster,
                                                                     tmp_path):
    # --threshold 0.9 on a 3-class softmax model's class output: the argmax was written
    # unchanged and tagged GEOTILE_THRESHOLD=0.9; --dtype uint8 was accepted and ignored
    image = make_raster("img.tif", np.random.default_rng(0).integers(0, 256, (3, 40, 30),
                                                                     dtype=np.uint8))
    softmax = pointwise_model(tmp_path / "s.onnx", classes=3, activation="softmax")
    out = tmp_path / "c.tif"
    for extra in (["--threshold", "0.9"], ["--threshold", "0.9", "--workers", "2"]):
        assert_one_line_error(run_cli("predict", softmax, image, "-o", out, "--output-type",
                                      "class", *extra), "--threshold", "softmax", code=2)
    for dtype in ("uint8", "float32"):
        assert_one_line_error(run_cli("predict", softmax, image, "-o", out, "--output-type",
                                      "class", "--dtype", dtype), "--dtype", "class", code=2)
    assert not out.exists()
    result = run_cli("predict", softmax, image, "-o", out, "--output-type", "class")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as c:
        assert "GEOTILE_THRESHOLD" not in c.tags()


def test_threshold_of_sigmoid_class_output_is_applied_and_tagged(run_cli, make_raster,
                                                                 tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 40, 30), dtype=np.uint8)
    image = make_raster("img.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="sigmoid")
    p = pointwise_reference(pixels[np.newaxis].astype(np.float32) / 255, classes=3,
                            activation="sigmoid")[0]
    written = {}
    for threshold in ("0.5", "0.9"):
        out = tmp_path / f"c{threshold}.tif"
        result = run_cli("predict", model, image, "-o", out, "--output-type", "class",
                         "--threshold", threshold)
        assert result.exit_code == 0, result.output
        t = float(threshold)
        expected = np.where(p.max(axis=0) >= t, p.argmax(axis=0) + 1, 0)
        order = np.sort(p, axis=0)
        clear = (np.abs(order[-1] - t) > 1e-4) & (order[-1] - order[-2] > 1e-4)
        with rasterio.open(out) as c:
            assert float(c.tags()["GEOTILE_THRESHOLD"]) == t
            written[t] = c.read(1)
        np.testing.assert_array_equal(written[t][clear], expected[clear])
    assert (written[0.9] == 0).sum() > (written[0.5] == 0).sum() > 0  # applied: more background


def test_help_states_the_nodata_rule_of_every_path(run_cli):
    """--help says a float band NaN or at its own nodata value makes a pixel nodata, as
    read_block has it on every path (plain, --mosaic, --model-resolution)."""
    result = run_cli("predict", "--help")
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert ("is nodata by its value, mask or alpha, or where one float band is NaN or at its "
            "own nodata value; with --mosaic or --model-resolution too") in text


def test_help_names_extra_bands_nodata_and_command_line_mean_std(run_cli):
    """--help said output pixels are nodata where every band fed to the model is, leaving
    out the --extra-bands raster's nodata and the pixels it does not reach (nodata too);
    and --scale named only metadata or the model's first ops as signs of 0..255 pixels,
    where a --mean/--std above 1 given on the command line sets it too."""
    result = run_cli("predict", "--help")
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert ("Pixels where the --extra-bands raster is nodata or that it does not reach are "
            "nodata too") in text
    assert "--mean/--std" in text.split("--scale FLOAT", 1)[1].split("--output-type", 1)[0]


def test_a_batch_refuses_a_truncated_image_before_the_first(run_cli, make_raster, tmp_path):
    """3 images, the 2nd a download cut 200 bytes short (its last tile): a.tif's
    prediction was written before the one-line refusal; its pixels are checked up front."""
    model = pointwise_model(tmp_path / "m.onnx")
    pixels = np.random.default_rng(0).integers(0, 255, (3, 128, 128)).astype(np.uint8)
    names = [make_raster(f"{n}.tif", pixels, tiled=True, blockxsize=64, blockysize=64,
                         compress="deflate") for n in "abc"]
    data = names[1].read_bytes()
    names[1].write_bytes(data[:-200])
    result = run_cli("predict", model, *names, "-o", tmp_path / "out", "--tile-size", "32")
    assert_one_line_error(result, "b.tif", "damaged or truncated")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_jpeg_with_a_corrupt_scan_is_refused_not_predicted(run_cli, tmp_path, monkeypatch):
    """A JPEG whose second half of compressed data was garbled: libjpeg decoded half the
    image into noise and predict exited 0 with a prediction of that noise; now one line
    naming the file as damaged, and no output."""
    model = pointwise_model(tmp_path / "m.onnx")
    jpeg = write_garbled_jpeg(tmp_path / "photo.jpg")
    result = run_cli("predict", model, jpeg, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert_one_line_error(result, "photo.jpg", "Corrupt JPEG data", "damaged or truncated",
                          "GDAL_ERROR_ON_LIBJPEG_WARNING=FALSE")
    assert not (tmp_path / "o.tif").exists()
    # the way round the message names, for a JPEG with a cosmetic libjpeg warning
    monkeypatch.setenv("GDAL_ERROR_ON_LIBJPEG_WARNING", "FALSE")
    result = run_cli("predict", model, jpeg, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output


def test_a_jpeg_with_a_cosmetic_libjpeg_warning_is_named_with_the_way_round(
        run_cli, tmp_path, monkeypatch):
    """A JPEG with 3 stray bytes before its scan ('extraneous bytes before marker 0xda',
    which viewers ignore) was refused as 'IReadBlock failed at X offset 0, Y offset 0':
    neither libjpeg's complaint nor the GDAL_ERROR_ON_LIBJPEG_WARNING=FALSE way round."""
    from PIL import Image

    model = pointwise_model(tmp_path / "m.onnx")
    jpeg = tmp_path / "photo.jpg"
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    scan = data.index(b"\xff\xda")
    jpeg.write_bytes(data[:scan] + b"\x01\x02\x03" + data[scan:])
    result = run_cli("predict", model, jpeg, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert_one_line_error(result, "photo.jpg", "extraneous bytes before marker",
                          "GDAL_ERROR_ON_LIBJPEG_WARNING=FALSE")
    assert not (tmp_path / "o.tif").exists()
    monkeypatch.setenv("GDAL_ERROR_ON_LIBJPEG_WARNING", "FALSE")
    result = run_cli("predict", model, jpeg, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output


def test_an_overlap_that_rounds_to_the_tile_names_its_pixels_and_source(run_cli, make_raster,
                                                                         tmp_path):
    """--overlap 0.99 of a 16 px tile (15.84 px, rounded to 16) said '--overlap 0.99 must be
    smaller than the tile (16 px)', which 0.99 is; a model's tiles_overlap 99.9 (%) was
    reported as an '--overlap 0.999' nobody gave. Now the line gives the pixels, names the
    metadata, and the largest overlap that works."""
    image = make_raster("img.tif", np.ones((3, 40, 40), np.uint8))
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "a.tif", "--tile-size", 16,
                     "--overlap", 0.99)
    assert_one_line_error(result, "--overlap 0.99 is 16 px of the 16 px tile",
                          "at most 15 px")
    assert not (tmp_path / "a.tif").exists()
    meta = pointwise_model(tmp_path / "meta.onnx", size=16, metadata={"tiles_overlap": 99.9})
    result = run_cli("predict", meta, image, "-o", tmp_path / "b.tif")
    assert_one_line_error(result, "meta.onnx", "tiles_overlap 99.9% is 16 px of the 16 px tile",
                          "--overlap", "at most 15 px")
    result = run_cli("predict", meta, image, "-o", tmp_path / "b.tif", "--overlap", 15)
    assert result.exit_code == 0, result.output


def test_grey_and_alpha_ortho_to_an_rgb_model_points_to_bands_1_1_1(run_cli, make_raster,
                                                                     tmp_path):
    """A one-band orthomosaic with an alpha band (a thermal or panchromatic export, grey +
    alpha) for a 3-channel model: the hint was to add 1 band with --extra-bands (which then
    feeds the alpha band and is refused); it is --bands 1,1,1, and that runs, alpha masking
    nodata."""
    from rasterio.enums import ColorInterp

    grey = np.full((2, 16, 16), 200, np.uint8)
    grey[1, :, 8:] = 0  # transparent right half
    grey[1, :, :8] = 255
    image = make_raster("thermal.tif", grey)
    with rasterio.open(image, "r+") as dst:
        dst.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    model = pointwise_model(tmp_path / "rgb.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "thermal.tif", "alpha", "--bands 1,1,1")
    assert "--extra-bands" not in result.stderr
    result = run_cli("predict", model, image, "--bands", "1,1,1", "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert (out.dataset_mask()[:, :8] == 255).all() and (out.dataset_mask()[:, 8:] == 0).all()
        expected = pointwise_reference(np.full((1, 3, 1, 1), 200 / 255))[0, 0, 0, 0]
        np.testing.assert_allclose(out.read(1)[:, :8], expected, rtol=1e-5)


def test_blue_first_bands_are_named_not_fed_silently(run_cli, make_raster, tmp_path,
                                                     real_data):
    """A BGRN PlanetScope stack (colour interpretation blue, green, red, undefined) into a
    3-channel model was refused with 'e.g. --bands 1,2,3' (blue, green, red), and into a
    4-channel one, like rasterio's BGRA RGBA.uint16.tif into an RGB model, fed blue first
    without a word: the hint now names the red, green, blue bands, and the order is warned."""
    from rasterio.enums import ColorInterp

    pixels = np.random.default_rng(7).integers(1, 12000, (4, 40, 50)).astype(np.uint16)
    tif = make_raster("ps.tif", pixels, nodata=0)
    with rasterio.open(tif, "r+") as dst:
        dst.colorinterp = [ColorInterp.blue, ColorInterp.green, ColorInterp.red,
                           ColorInterp.undefined]
    three = pointwise_model(tmp_path / "m3.onnx")
    four = pointwise_model(tmp_path / "m4.onnx", channels=4)
    result = run_cli("predict", three, tif, "-o", tmp_path / "a.tif", "--scale", "0.0001")
    assert_one_line_error(result, "ps.tif", "--bands 3,2,1 (red, green, blue)")
    result = run_cli("predict", four, tif, "-o", tmp_path / "b.tif", "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    assert "blue, green, red, undefined" in result.stderr and "--bands 3,2,1,4" in result.stderr
    with rasterio.open(tmp_path / "b.tif") as out:  # still the file's order, as documented
        np.testing.assert_allclose(out.read(1), pointwise_reference(
            pixels[np.newaxis] * np.float32(0.0001), channels=4)[0, 0], atol=1e-5)
    result = run_cli("predict", four, tif, "-o", tmp_path / "c.tif", "--scale", "0.0001",
                     "--bands", "1,2,3,4")
    assert result.exit_code == 0 and "colour interpretation" not in result.stderr
    result = run_cli("predict", three, real_data / "rasterio" / "RGBA.uint16.tif", "-o",
                     tmp_path / "d.tif", "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    assert "blue, green, red" in result.stderr and "--bands 3,2,1" in result.stderr


def test_a_16_bit_fill_without_nodata_is_named(run_cli, make_raster, tmp_path):
    """A Sentinel-2 stack (gdalbuildvrt -separate of its JP2s, which declare no nodata) with
    a third of the scene 0 in every band: predict wrote probabilities over the fill and tile
    counted it as nodata_fraction 0.0, without a word -> one warning naming the fix; with
    nodata declared the fill is nodata and nothing is warned."""
    pixels = np.random.default_rng(8).integers(1, 12000, (3, 60, 90)).astype(np.uint16)
    pixels[:, :, :30] = 0
    bare = make_raster("bare.tif", pixels)
    declared = make_raster("declared.tif", pixels, nodata=0)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, bare, "-o", tmp_path / "a.tif", "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    assert "bare.tif: its uint16 bands are 0 together in" in result.stderr
    assert "gdal_edit.py -a_nodata 0" in result.stderr
    result = run_cli("tile", bare, "-o", tmp_path / "patches", "--size", "32")
    assert result.exit_code == 0 and "declares no nodata" in result.stderr, result.output
    result = run_cli("predict", model, declared, "-o", tmp_path / "b.tif", "--scale", "0.0001")
    assert result.exit_code == 0 and "declares no nodata" not in result.stderr, result.output
    with rasterio.open(tmp_path / "b.tif") as out:
        np.testing.assert_array_equal(np.isnan(out.read(1)), pixels[0] == 0)


def test_a_16_bit_single_band_with_zeros_is_not_called_a_fill(run_cli, make_raster, tmp_path):
    """A 1-band uint16 nDSM in cm (ground 0 in 40 % of it): tile and predict called its 0s
    'a fill' and advised gdal_edit.py -a_nodata 0, which would drop all the ground; a 0 in
    one band is a value (the fill check is for 0 in every band of a stack)."""
    heights = np.random.default_rng(9).integers(1, 3000, (60, 90)).astype(np.uint16)
    heights[:, :36] = 0
    ndsm = make_raster("ndsm.tif", heights)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, ndsm, "-o", tmp_path / "a.tif", "--scale", "0.001")
    assert result.exit_code == 0, result.output
    assert "declares no nodata" not in result.stderr and "a_nodata" not in result.stderr
    result = run_cli("tile", ndsm, "-o", tmp_path / "patches", "--size", "32")
    assert result.exit_code == 0, result.output
    assert "declares no nodata" not in result.stderr and "a_nodata" not in result.stderr


def test_the_fill_check_counts_distinct_bands(run_cli, make_raster, tmp_path):
    """A 1-band uint16 nDSM fed to a 3-channel model (--bands 1,1,1) was called 'a fill'
    again (band 1 three times is 'every band'); a 4-band stack's collar (0 in all bands, 40 %)
    was no longer said when one band was chosen (--bands 2)."""
    rng = np.random.default_rng(9)
    heights = rng.integers(1, 3000, (60, 90)).astype(np.uint16)
    heights[:, :36] = 0
    ndsm = make_raster("ndsm.tif", heights)
    result = run_cli("predict", pointwise_model(tmp_path / "m3.onnx", channels=3), ndsm,
                     "-o", tmp_path / "a.tif", "--bands", "1,1,1", "--scale", "0.001")
    assert result.exit_code == 0, result.output
    assert "a_nodata" not in result.stderr, result.stderr
    stack = rng.integers(1, 3000, (4, 60, 90)).astype(np.uint16)
    stack[:, :, :36] = 0
    scene = make_raster("scene.tif", stack)
    result = run_cli("predict", pointwise_model(tmp_path / "m1.onnx", channels=1), scene,
                     "-o", tmp_path / "b.tif", "--bands", "2", "--scale", "0.001")
    assert result.exit_code == 0, result.output
    assert "bands are 0 together in" in result.stderr and "a_nodata 0" in result.stderr


def test_one_scale_over_images_of_different_types_is_warned(run_cli, make_raster, tmp_path):
    """A delivery of uint8 and uint16 tiles, --scale 0.0000153 given for the 16-bit ones:
    the uint8 tiles reached the model as 0..0.0039 (their probabilities those of near-black
    pixels), exit 0 without a word. The run still predicts every image with that one scale,
    and says which image's pixels it shrinks and what to do."""
    rng = np.random.default_rng(3)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    rgb = make_raster("a_rgb.tif", rng.integers(0, 256, (3, 20, 20), np.uint8))
    wide = make_raster("b_wide.tif", rng.integers(0, 65536, (3, 20, 20), np.uint16))
    out = tmp_path / "out"
    result = run_cli("predict", model, rgb, wide, "-o", out, "--scale", "0.0000153")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "--scale 1.53e-05" in line]
    assert len(warned) == 1, result.stderr
    for part in ("a_rgb.tif", "uint8", "0.0039", "b_wide.tif", "uint16", "own run"):
        assert part in warned[0], warned[0]
    with rasterio.open(rgb) as src, rasterio.open(out / "a_rgb.tif") as got:
        want = pointwise_reference(src.read()[None].astype(np.float32) * np.float32(1.53e-5),
                                   activation="sigmoid")[0]
        np.testing.assert_allclose(got.read(), want, atol=1e-5)
    # one type, or no --scale (each type its default, uint16 warned as ever): no such line
    for images, extra, again in (([rgb], ["--scale", "0.0000153"], "one.tif"),
                                 ([rgb, wide], [], "both")):
        result = run_cli("predict", model, *images, "-o", tmp_path / again, *extra)
        assert result.exit_code == 0 and "own run" not in result.stderr, result.stderr


def test_a_folder_holding_geotiles_own_predictions_is_refused(run_cli, make_raster, tmp_path):
    """tiles/ held a.tif and a_prob.tif, the prediction an earlier `predict tiles/a.tif -o
    tiles/a_prob.tif` wrote beside it: `predict tiles/ -o out/` predicted the prediction
    as one more image (out/a_prob.tif, exit 0), as --merge in an input folder would (which
    is refused). A raster geotile wrote that a folder or pattern brought in is refused in
    one line before any work; given by name it is predicted, as any raster."""
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    (tmp_path / "tiles").mkdir()
    image = make_raster("tiles/a.tif", np.full((3, 40, 30), 100, np.uint8))
    earlier = tmp_path / "tiles" / "a_prob.tif"
    assert run_cli("predict", model, image, "-o", earlier, "--dtype", "uint8").exit_code == 0
    for given in (image.parent, str(image.parent / "*.tif")):
        result = run_cli("predict", model, given, "-o", tmp_path / "out")
        assert_one_line_error(result, str(earlier), "geotile wrote", "prediction",
                              "give the images by name")
        assert not (tmp_path / "out").exists()
    result = run_cli("predict", model, image, earlier, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.tif", "a_prob.tif"]


def test_a_folder_or_pattern_of_geotiles_predictions_alone_is_predicted(run_cli, make_raster,
                                                                        tmp_path):
    """A cascade: stage 2 takes stage 1's predictions as its images (`predict m2.onnx
    preds/`), or a pattern matching only them (`'tiles/*_prob.tif'`): nothing but geotile's
    outputs is brought in, so they are what the user means to predict (refused since
    b267994, 'give the images by name'). A folder mixing them with images is refused."""
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    (tmp_path / "tiles").mkdir()
    images = [make_raster(f"tiles/{n}.tif", np.full((3, 40, 30), v, np.uint8))
              for n, v in (("a", 100), ("b", 60))]
    for image in images:
        out = tmp_path / "preds" / image.name
        assert run_cli("predict", model, image, "-o", out, "--dtype", "uint8").exit_code == 0
    result = run_cli("predict", model, tmp_path / "preds", "-o", tmp_path / "stage2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "stage2").iterdir()) == ["a.tif", "b.tif"]
    with rasterio.open(tmp_path / "stage2" / "a.tif") as src:
        assert src.tags()["GEOTILE_OUTPUT"] == "probability" and src.count == 3
    earlier = tmp_path / "tiles" / "a_prob.tif"
    assert run_cli("predict", model, images[0], "-o", earlier, "--dtype", "uint8").exit_code == 0
    result = run_cli("predict", model, str(tmp_path / "tiles" / "*_prob.tif"),
                     "-o", f"{tmp_path / 'only'}/")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "only").iterdir()] == ["a_prob.tif"]
    result = run_cli("predict", model, tmp_path / "tiles", "-o", tmp_path / "mixed")
    assert_one_line_error(result, str(earlier), "geotile wrote", "give the images by name")


def test_a_merge_mosaic_left_in_the_images_folder_is_refused(run_cli, make_raster, tmp_path):
    """`predict tiles/a.tif tiles/b.tif -o preds/ --merge tiles/mosaic.vrt` left the
    mosaic of the predictions (a VRT, tagged as they are) beside the images: a later
    `predict tiles/ -o out/` predicted it as one more image (out/mosaic.tif, exit 0), as
    b267994 refuses for a GeoTIFF prediction there. It is refused the same way."""
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    (tmp_path / "tiles").mkdir()
    images = [make_raster(f"tiles/{n}.tif", np.full((3, 40, 30), 100, np.uint8),
                          transform=from_origin(UTM_ORIGIN[0] + 30 * i, UTM_ORIGIN[1], 1, 1))
              for i, n in enumerate("ab")]
    mosaic = tmp_path / "tiles" / "mosaic.vrt"
    result = run_cli("predict", model, *images, "-o", f"{tmp_path / 'preds'}/",
                     "--merge", mosaic)
    assert result.exit_code == 0 and mosaic.exists(), result.output
    result = run_cli("predict", model, tmp_path / "tiles", "-o", tmp_path / "out")
    assert_one_line_error(result, str(mosaic), "geotile wrote", "give the images by name")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "extra"), [("RGB.byte.tif", ()), ("alpha.tif", ()),
                                             ("RGB.byte.tif", ("--tta", "d4")),
                                             ("alpha.tif", ("--dtype", "uint8"))])
def test_real_collars_are_nodata_and_the_scene_exact(run_cli, tmp_path, real_data, name, extra):
    """Real scenes with collars: rasterio's Landsat RGB.byte.tif (nodata 0 around a tilted
    footprint) and alpha.tif (an alpha band). Under a pointwise model the output is the
    model's value of each valid pixel (no collar pixel leaks in through the blending of
    windows that straddle the footprint's edge), nodata on the collar, on the image's grid."""
    image = real_data / "rasterio" / name
    with rasterio.open(image) as src:
        pixels, valid = src.read([1, 2, 3]), src.dataset_mask() > 0
        transform, crs = src.transform, src.crs
    assert 0 < valid.mean() < 1
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--tile-size", "128",
                     *extra)
    assert result.exit_code == 0, result.output
    expected = pointwise_reference(pixels[np.newaxis] / np.float32(255))[0, 0]
    with rasterio.open(tmp_path / "o.tif") as out:
        assert out.transform == transform and out.crs == crs
        values, mask = out.read(1), out.dataset_mask() > 0
    np.testing.assert_array_equal(mask, valid)
    if "uint8" in extra:  # p x 255, 0 under the mask
        np.testing.assert_allclose(values[valid], expected[valid] * 255, atol=0.5 + 1e-4)
        assert (values[~valid] == 0).all()
    else:
        np.testing.assert_allclose(values[valid], expected[valid], atol=1e-6)
        assert np.isnan(values[~valid]).all()
