"""predict's rasters follow the conventions GIS clients expect: scale/offset, colour
interpretation, band descriptions, category names, tags, creation options, --json."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp, MaskFlags

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_raster

from .conftest import assert_one_line_error
from .onnx_models import pointwise_model

NAMES = ["background", "building", "road"]


def gdalinfo(path) -> str | None:
    """gdalinfo's report of ``path``, or None where GDAL's tools are not installed."""
    if shutil.which("gdalinfo") is None:
        return None
    return subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def image(make_raster):
    pixels = np.random.default_rng(1).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    return make_raster("img.tif", pixels)


@pytest.fixture
def three_classes(tmp_path):
    return OnnxModel.from_path(pointwise_model(
        tmp_path / "three.onnx", classes=3, activation="softmax",
        metadata={"class_names": NAMES}))


@pytest.fixture
def one_class(tmp_path):
    return OnnxModel.from_path(pointwise_model(tmp_path / "one.onnx",
                                               metadata={"seg_thresh": 0.3,
                                                         "class_names": {"0": "building"}}))


# --- 1. uint8 probabilities carry scale 1/255 and offset 0 ---------------------------------
def test_uint8_probabilities_have_scale_and_offset(tmp_path, image, three_classes):
    out = tmp_path / "p.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(dtype="uint8"))
    with rasterio.open(out) as dst:
        assert dst.scales == (1 / 255,) * 3 and dst.offsets == (0.0,) * 3
        raw = dst.read().astype(np.float64)
    # a reader applying scale/offset sees probabilities: softmax bands sum to 1
    np.testing.assert_allclose((raw * (1 / 255)).sum(axis=0), 1, atol=2 / 255)
    report = gdalinfo(out)
    if report is not None:
        assert report.count("Offset: 0,   Scale:0.00392156862745098") == 3


def test_float32_probabilities_have_no_scale(tmp_path, image, three_classes):
    out = tmp_path / "f.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(dtype="float32"))
    with rasterio.open(out) as dst:
        assert dst.scales == (1.0,) * 3 and dst.offsets == (0.0,) * 3
    report = gdalinfo(out)
    if report is not None:
        assert "Scale:" not in report


# --- 2. probability bands: gray / undefined, class names as descriptions -------------------
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("cog", [False, True])
def test_probability_bands_are_not_rgb(tmp_path, image, three_classes, dtype, cog):
    out = tmp_path / "p.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(dtype=dtype, cog=cog))
    with rasterio.open(out) as dst:
        assert dst.colorinterp == (ColorInterp.gray, ColorInterp.undefined,
                                   ColorInterp.undefined)
        assert dst.descriptions == tuple(NAMES)
        assert dst.tags(ns="IMAGE_STRUCTURE").get("PHOTOMETRIC", "MINISBLACK") != "RGB"
    report = gdalinfo(out)
    if report is not None:
        assert "ColorInterp=Gray" in report and report.count("ColorInterp=Undefined") == 2
        assert "Red" not in report and "Description = building" in report


# --- 3. class rasters: colour table and category names GDAL reads ------------------------
def _categories(path) -> list[str]:
    """Category names of band 1 as GDAL reads them (gdalinfo, else the PAM sidecar)."""
    report = gdalinfo(path)
    if report is not None:
        if "Categories:" not in report:
            return []
        lines = report.split("Categories:")[1].splitlines()[1:]
        names = []
        for line in lines:
            index, sep, name = line.strip().partition(": ")
            if not sep or not index.isdigit():
                break
            names.append(name)
        return names
    import xml.etree.ElementTree as ET

    sidecar = path.with_name(path.name + ".aux.xml")
    if not sidecar.exists():
        return []
    band = ET.parse(sidecar).getroot().find("PAMRasterBand[@band='1']")
    return [c.text or "" for c in band.find("CategoryNames")]


@pytest.mark.parametrize("cog", [False, True])
def test_class_raster_has_category_names_and_colours(tmp_path, image, three_classes, cog):
    out = tmp_path / "c.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(output_type="class",
                                                                     cog=cog))
    assert _categories(out) == NAMES
    with rasterio.open(out) as dst:
        assert dst.colorinterp == (ColorInterp.palette,)
        colours = dst.colormap(1)
        assert len({colours[i][:3] for i in range(3)}) == 3
        assert dst.nodata == 255 and dst.descriptions == ("class",)
    # only the raster and its sidecar: no temporary files left
    assert sorted(p.name for p in tmp_path.glob("c.tif*")) == ["c.tif", "c.tif.aux.xml"]
    assert not list(tmp_path.glob(".*"))


def test_binary_class_raster_names_background_and_building(tmp_path, image, one_class):
    out = tmp_path / "c.tif"
    predict_raster(one_class, image, out, options=PredictOptions(output_type="class"))
    assert _categories(out) == ["background", "building"]


def test_sidecar_appears_only_with_its_raster(tmp_path, image, three_classes, monkeypatch):
    import geotile.output_files

    def broken(tmp, final):
        raise RuntimeError("disk full")

    monkeypatch.setattr(geotile.output_files, "verify_geotiff", broken)
    out = tmp_path / "c.tif"
    with pytest.raises(RuntimeError, match="disk full"):
        predict_raster(three_classes, image, out, options=PredictOptions(output_type="class"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "three.onnx"]


def test_overwriting_a_class_raster_drops_its_categories(tmp_path, image, three_classes):
    out = tmp_path / "c.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(output_type="class"))
    predict_raster(three_classes, image, out, overwrite=True)
    assert _categories(out) == []
    assert not (tmp_path / "c.tif.aux.xml").exists()


def test_a_stray_sidecar_is_not_adopted(tmp_path, image, three_classes):
    from geotile.errors import OutputExistsError

    stray = tmp_path / "c.tif.aux.xml"
    stray.write_text("<PAMDataset><Metadata><MDI key='X'>1</MDI></Metadata></PAMDataset>")
    with pytest.raises(OutputExistsError, match=r"c\.tif\.aux\.xml.*--overwrite"):
        predict_raster(three_classes, image, tmp_path / "c.tif")
    assert not (tmp_path / "c.tif").exists()
    assert "MDI" in stray.read_text()


@pytest.mark.parametrize("suffix", [".ovr", ".msk"])
def test_stale_overviews_and_masks_are_not_adopted(tmp_path, image, three_classes, suffix):
    """GDAL attaches <output>.ovr (overviews: what a zoomed-out viewer shows) and .msk (the
    nodata mask) to a new file of that name: a stale one is refused, or removed with the
    output it described by --overwrite."""
    from geotile.errors import OutputExistsError

    out = tmp_path / "c.tif"
    stale = tmp_path / f"c.tif{suffix}"
    with rasterio.open(image) as src:  # a half-resolution picture of something else
        profile = {"driver": "GTiff", "width": src.width // 2, "height": src.height // 2,
                       "count": 1 if suffix == ".msk" else 3, "dtype": "uint8"}
    with rasterio.open(stale, "w", **profile) as dst:
        dst.write(np.full((profile["count"], profile["height"], profile["width"]), 7,
                          np.uint8))
    with pytest.raises(OutputExistsError, match=rf"c\.tif\{suffix}.*--overwrite"):
        predict_raster(three_classes, image, out)
    assert not out.exists() and stale.exists()
    predict_raster(three_classes, image, out, overwrite=True)
    assert not stale.exists()
    with rasterio.open(out) as dst:
        assert dst.overviews(1) == [] and dst.mask_flag_enums[0] != [MaskFlags.per_dataset]


# --- 4. the threshold and the class names travel as tags ----------------------------------
@pytest.mark.parametrize(("threshold", "expected"), [(None, "0.3"), (0.7, "0.7")])
@pytest.mark.parametrize("output_type", ["probability", "class"])
def test_threshold_travels_as_a_tag(tmp_path, image, one_class, threshold, expected,
                                    output_type):
    from geotile.raster_kinds import raster_kind

    out = tmp_path / "o.tif"
    predict_raster(one_class, image, out,
                   options=PredictOptions(output_type=output_type, threshold=threshold,
                                          dtype="uint8"))
    with rasterio.open(out) as dst:
        tags = dst.tags()
        kind = raster_kind(dst)
    assert tags["GEOTILE_THRESHOLD"] == expected
    assert kind.kind == output_type
    if output_type == "probability":
        assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["building"]
        assert kind.names == ["background", "building"]  # indexed by class id
        assert kind.scale == 255
    else:
        assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building"]


def test_default_threshold_is_recorded(tmp_path, image, three_classes):
    out = tmp_path / "p.tif"
    predict_raster(three_classes, image, out)
    with rasterio.open(out) as dst:
        assert dst.tags()["GEOTILE_THRESHOLD"] == "0.5"


# --- 5. --co works with --cog, and is checked before any work -----------------------------
@pytest.mark.parametrize("blocks", [["BLOCKSIZE=128"], ["BLOCKXSIZE=128", "BLOCKYSIZE=128"]])
def test_creation_options_reach_the_cog(run_cli, tmp_path, image, blocks):
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    out = tmp_path / "p.tif"
    args = [a for b in blocks for a in ("--co", b)]
    result = run_cli("predict", model, image, "-o", out, "--cog", "--co", "COMPRESS=ZSTD",
                     "--dtype", "uint8", *args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        assert dst.compression.name == "zstd"
        assert dst.block_shapes[0] == (128, 128)
        assert dst.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert dst.scales == (1 / 255,) * 3


@pytest.mark.parametrize(("dtype", "output_type"), [("float32", "probability"),
                                                    ("uint8", "probability"),
                                                    ("uint8", "class")])
def test_a_cog_is_compressed_as_the_plain_geotiff(tmp_path, image, three_classes, dtype,
                                                  output_type):
    """float32 probabilities: ZSTD with the floating-point predictor (DEFLATE where GDAL
    lacks ZSTD), --cog or not."""
    from geotile.creation_options import gtiff_has_zstd

    structure = {}
    for cog in (False, True):
        out = tmp_path / f"{cog}.tif"
        predict_raster(three_classes, image, out, options=PredictOptions(
            dtype=dtype, output_type=output_type, cog=cog))
        with rasterio.open(out) as dst:
            tags = dst.tags(ns="IMAGE_STRUCTURE")
            structure[cog] = tags["COMPRESSION"], tags.get("PREDICTOR")
    assert structure[True] == structure[False]
    if dtype == "float32":
        assert structure[True] == ("ZSTD" if gtiff_has_zstd() else "DEFLATE", "3")


def test_cog_class_overviews_keep_class_ids(tmp_path, make_raster, three_classes):
    pixels = np.random.default_rng(2).integers(0, 256, (3, 600, 600), dtype=np.uint8)
    image = make_raster("big.tif", pixels)
    out = tmp_path / "c.tif"
    predict_raster(three_classes, image, out,
                   options=PredictOptions(output_type="class", cog=True,
                                          creation_options={"blocksize": "128"}))
    with rasterio.open(out) as dst:
        assert dst.overviews(1)[0] == 2
        full = dst.read(1)
        overview = dst.read(1, out_shape=(300, 300))
    # nearest/mode overviews hold one of the ids of their 2x2 pixels, never an average
    blocks = full.reshape(300, 2, 300, 2).transpose(0, 2, 1, 3).reshape(300, 300, 4)
    assert (blocks == overview[:, :, np.newaxis]).any(axis=2).all()


def test_jpeg_compression_of_uint8_probabilities(run_cli, tmp_path, image):
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    out = tmp_path / "p.tif"
    result = run_cli("predict", model, image, "-o", out, "--co", "COMPRESS=JPEG",
                     "--dtype", "uint8")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        assert dst.compression.name == "jpeg" and dst.read().shape == (3, 40, 50)


@pytest.mark.parametrize(
    ("options", "fragments"),
    [(["BLOCKXSIZE=7"], ["BLOCKXSIZE=7", "multiple of 16"]),
     (["BLOCKYSIZE=abc"], ["BLOCKYSIZE=abc", "multiple of 16"]),
     (["COMPRESS=JPEG", "--dtype", "float32"], ["COMPRESS=JPEG", "uint8"]),
     (["COMPRESS=WEBP", "--dtype", "float32"], ["COMPRESS=WEBP", "uint8"]),
     (["COMPRESS=NOPE"], ["COMPRESS=NOPE", "gdal.org"]),
     (["FOO=bar"], ["FOO=bar", "gdal.org"]),
     (["BIGTIFF=maybe"], ["BIGTIFF=maybe"]),
     (["PREDICTOR=3", "--dtype", "uint8"], ["PREDICTOR=3"]),
     (["SPARSE_OK=TRUE"], ["SPARSE_OK", "Remove"]),
     (["FOO=bar", "--cog"], ["FOO=bar", "COG"]),
     (["COMPRESS=NOPE", "--cog"], ["COMPRESS=NOPE", "COG"]),
     (["BLOCKXSIZE=256", "--co", "BLOCKYSIZE=512", "--cog"], ["BLOCKXSIZE", "square"])],
)
def test_bad_creation_options_are_one_line_before_any_work(run_cli, tmp_path, image, options,
                                                          fragments):
    from .conftest import assert_one_line_error

    # the model does not exist: the options are refused before it is even opened
    result = run_cli("predict", tmp_path / "missing.onnx", image, "-o", tmp_path / "o.tif",
                     "--co", *options)
    assert_one_line_error(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]


def test_sparse_ok_is_refused_in_the_api(tmp_path):
    from geotile.errors import InputError

    with pytest.raises(InputError, match="SPARSE_OK"):
        PredictOptions(creation_options={"sparse_ok": "TRUE"})


@pytest.mark.parametrize("cog", [False, True])
def test_webp_needs_three_or_four_bands(tmp_path, image, one_class, three_classes, cog):
    from geotile.errors import InputError

    options = PredictOptions(cog=cog, creation_options={"compress": "WEBP",
                                                          "webp_lossless": "YES"},
                             dtype="uint8")
    predict_raster(three_classes, image, tmp_path / "three.tif", options=options)
    predict_raster(three_classes, image, tmp_path / "plain.tif",
                   options=PredictOptions(cog=cog, dtype="uint8"))
    with rasterio.open(tmp_path / "three.tif") as dst, \
            rasterio.open(tmp_path / "plain.tif") as plain:
        assert dst.compression.name == "webp"
        assert np.array_equal(dst.read(), plain.read())  # lossless: the same pixels
    with pytest.raises(InputError, match=r"COMPRESS=WEBP needs 3 or 4 bands, not 1"):
        predict_raster(one_class, image, tmp_path / "one.tif", options=options)
    assert not (tmp_path / "one.tif").exists()



@pytest.mark.parametrize("cog", [[], ["--cog"]])
def test_lossy_webp_of_probability_bands_is_refused(run_cli, tmp_path, image, cog):
    """Lossy WebP is YUV 4:2:0 colour: the third class's uint8 probabilities came back up
    to 181/255 off (mean 30), each depending on its neighbours and the other bands; refused
    in one line naming the lossless option, nothing written."""
    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--dtype", "uint8",
                     "--co", "COMPRESS=WEBP", *cog)
    assert_one_line_error(result, "COMPRESS=WEBP", "colour", "WEBP_LOSSLESS=YES")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "m.onnx"]

# --- 6. --overlap is a fraction below 1 or whole pixels; --json ---------------------------
@pytest.mark.parametrize("overlap", ["1.5", "16.5", "-0.2", "nan"])
def test_overlap_must_be_a_fraction_or_whole_pixels(run_cli, tmp_path, image, overlap):
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--overlap", overlap)
    assert result.exit_code == 2, result.output  # bad usage
    assert "--overlap" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("overlap", ["0.25", "16", "16.0", "0"])
def test_good_overlaps(run_cli, tmp_path, image, overlap):
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--overlap", overlap,
                     "--tile-size", "32")
    assert result.exit_code == 0, result.output


def test_fractional_pixels_are_refused_in_the_api():
    from geotile.errors import InputError

    with pytest.raises(InputError, match=r"overlap 1\.5.*fraction below 1.*whole pixels"):
        PredictOptions(overlap=1.5)


def test_json_summary(run_cli, tmp_path, make_raster):
    model = pointwise_model(tmp_path / "m.onnx")
    a = make_raster("a.tif", np.zeros((3, 30, 40), np.uint8))
    b = make_raster("b.tif", np.zeros((3, 20, 20), np.uint8))
    result = run_cli("predict", model, a, b, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    assert [s["output"] for s in summaries] == [str(tmp_path / "out" / "a.tif"),
                                                str(tmp_path / "out" / "b.tif")]
    assert summaries[0]["image"] == str(a) and summaries[0]["megapixels"] == 0.001
    assert "provider" in summaries[0] and "MP/s" not in result.stdout


def test_a_stray_sidecar_is_refused_before_any_work(run_cli, tmp_path, image):
    from .conftest import assert_one_line_error

    (tmp_path / "o.tif.aux.xml").write_text("<PAMDataset/>")
    result = run_cli("predict", tmp_path / "missing.onnx", image, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "o.tif.aux.xml", "--overwrite")


@pytest.mark.parametrize("codec", ["JPEG", "WEBP"])
@pytest.mark.parametrize("cog", [[], ["--cog"]])
def test_lossy_compression_of_class_ids_is_refused(run_cli, tmp_path, image, codec, cog):
    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    result = run_cli("predict", model, image, "-o", tmp_path / "c.tif", "--output-type",
                     "class", "--co", f"COMPRESS={codec}", *cog)
    assert_one_line_error(result, f"COMPRESS={codec}", "lossy", "class")
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.parametrize("resampling", ["AVERAGE", "BILINEAR", "CUBIC"])
def test_overviews_blending_class_ids_are_refused(run_cli, tmp_path, image, resampling):
    """--co OVERVIEW_RESAMPLING=AVERAGE on a class COG was accepted: GDAL averages the colour
    table's colours and picks the nearest entry, ids of no class present there (MODE is the
    default for class rasters) -> refused in one line before any work, as lossy
    compression of class ids is; MODE and NEAREST are kept."""
    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    result = run_cli("predict", model, image, "-o", tmp_path / "c.tif", "--output-type",
                     "class", "--cog", "--co", f"OVERVIEW_RESAMPLING={resampling}")
    assert_one_line_error(result, f"OVERVIEW_RESAMPLING={resampling}", "class", "MODE")
    assert not (tmp_path / "c.tif").exists()
    for kept in ("MODE", "NEAREST"):
        result = run_cli("predict", model, image, "-o", tmp_path / f"{kept}.tif",
                         "--output-type", "class", "--cog", "--co",
                         f"OVERVIEW_RESAMPLING={kept}")
        assert result.exit_code == 0, result.output


def test_blocksize_works_without_cog_and_cog_options_say_so(run_cli, tmp_path, image):
    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx")
    out = tmp_path / "p.tif"
    assert run_cli("predict", model, image, "-o", out, "--co", "BLOCKSIZE=32").exit_code == 0
    with rasterio.open(out) as dst:
        assert dst.block_shapes[0] == (32, 32)
    result = run_cli("predict", model, image, "-o", tmp_path / "q.tif", "--co",
                     "OVERVIEW_RESAMPLING=NEAREST")
    assert_one_line_error(result, "OVERVIEW_RESAMPLING=NEAREST", "add --cog")
    result = run_cli("predict", model, image, "-o", tmp_path / "q.tif", "--cog", "--co",
                     "OVERVIEW_RESAMPLING=foo")
    assert_one_line_error(result, "OVERVIEW_RESAMPLING=foo", "NEAREST")


def test_jpeg_cog_of_three_probability_bands_is_refused(run_cli, tmp_path, image):
    """GDAL's COG driver stores 3 JPEG bands as YCbCr colour (chroma subsampled): the
    third class's probabilities came back up to 164/255 off (mean 30) where the same
    --co COMPRESS=JPEG GeoTIFF is at most 46 off; refused, one line, nothing written."""
    from .conftest import assert_one_line_error

    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--dtype", "uint8",
                     "--cog", "--co", "COMPRESS=JPEG")
    assert_one_line_error(result, "COMPRESS=JPEG", "--cog", "YCbCr")
    assert not (tmp_path / "p.tif").exists()
    four = pointwise_model(tmp_path / "four.onnx", classes=4)
    result = run_cli("predict", four, image, "-o", tmp_path / "q.tif", "--dtype", "uint8",
                     "--cog", "--co", "COMPRESS=JPEG")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "q.tif") as dst:
        assert dst.photometric is None or dst.photometric.name == "minisblack"


def test_a_class_raster_named_without_room_for_its_sidecar_is_refused(tmp_path, image,
                                                                     three_classes):
    """A class raster keeps its names in <name>.aux.xml: named in 251 bytes (legal), that
    sidecar's 259 cannot exist. predict put the raster in place, then failed moving the
    sidecar ('File name too long. Choose a shorter output name.', exit 1): a class raster
    without its names under the final name -> refused before it is moved in; a probability
    raster (no sidecar) of that name is written."""
    from geotile.errors import InputError

    out = tmp_path / ("c" * 247 + ".tif")
    with pytest.raises(InputError, match=r"\.aux\.xml.*4 bytes") as caught:
        predict_raster(three_classes, image, out, options=PredictOptions(output_type="class"))
    assert "\n" not in str(caught.value)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".onnx"] == ["img.tif"]
    predict_raster(three_classes, image, out)
    with rasterio.open(out) as dst:
        assert dst.count == 3


def test_outputs_named_without_room_for_their_sidecars_are_refused_before_any(
        run_cli, make_raster, tmp_path):
    """make-masks (every mask keeps its class names in <name>.aux.xml) and predict
    --output-type class of two images, the second named in 250 bytes: the first output was
    written (and predict's inference over the second done) before that name was refused,
    exit 1 with a run half done. Every output's sidecar name is checked first: one line
    naming it, nothing written; probability outputs of that name are still written."""
    long = "c" * 246 + ".tif"
    images = [make_raster("a.tif", np.ones((3, 20, 30), np.uint8)),
              make_raster(long, np.ones((3, 20, 30), np.uint8))]
    labels = make_raster("classes.tif", (np.arange(600).reshape(20, 30) % 3).astype(np.uint8))
    model = pointwise_model(tmp_path / "three.onnx", classes=3, activation="softmax",
                            metadata={"class_names": NAMES})
    runs = {"make-masks": ["make-masks", labels, *images],
            "predict": ["predict", model, *images, "--output-type", "class"]}
    for command, args in runs.items():
        out = tmp_path / f"out-{command}"
        result = run_cli(*args, "-o", f"{out}/")
        assert_one_line_error(result, f"{long}.aux.xml", "3 bytes shorter")
        assert not out.exists() or list(out.iterdir()) == []
    result = run_cli("predict", model, *images, "-o", f"{tmp_path / 'probabilities'}/")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "probabilities" / long).exists()


def test_a_sidecar_name_one_byte_too_long_is_counted_in_the_singular(tmp_path):
    """A name of 248 bytes leaves its sidecar 256, one over 255: the refusal said
    '1 bytes shorter' -> '1 byte shorter'; 2 over still says 'bytes'."""
    from geotile.errors import InputError
    from geotile.output_files import check_sidecar_room

    with pytest.raises(InputError) as caught:
        check_sidecar_room(tmp_path / ("c" * 244 + ".tif"))
    assert str(caught.value).endswith("Choose a name 1 byte shorter.")
    with pytest.raises(InputError) as caught:
        check_sidecar_room(tmp_path / ("c" * 245 + ".tif"))
    assert str(caught.value).endswith("Choose a name 2 bytes shorter.")
