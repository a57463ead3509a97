"""Folder and glob inputs (geotile.input_files) and --merge mosaics (geotile.merge)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import box

from geotile.errors import InputError, OutputExistsError
from geotile.input_files import expand_inputs
from geotile.merge import merge_rasters
from tests.conftest import UTM_CRS, UTM_ORIGIN, write_raster

# ---------------------------------------------------------------- folder and glob inputs


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_folder_becomes_its_raster_files_sorted_not_recursing(tmp_path):
    folder = _touch(tmp_path / "city", "b.TIF", "a.tif", "c.jp2", "notes.txt", "d.JPEG",
                    "._a.tif", ".b.0f3a9c2e.tmp.tif")  # macOS metadata, a killed run's file
    _touch(folder / "sub", "e.tif")
    assert [p.name for p in expand_inputs([folder])] == ["a.tif", "b.TIF", "c.jp2", "d.JPEG"]


def test_folder_of_header_described_rasters_lists_the_data_not_the_side_cars(tmp_path):
    """ENVI (scene.dat + scene.hdr, or scene + scene.hdr) and EHdr (.bil + .hdr) rasters
    are their data files; a header, overviews or statistics beside them are none, nor is
    a .dat without a header."""
    folder = _touch(tmp_path / "envi", "a.dat", "a.hdr", "a.dat.aux.xml", "a.dat.ovr",
                    "a.sta", "b", "b.hdr", "c.bil", "c.HDR", "d.tif", "d.tfw", "e.dat")
    assert [p.name for p in expand_inputs([folder])] == ["a.dat", "b", "c.bil", "d.tif"]


def test_empty_folder_is_an_error_naming_it_and_the_suffixes(tmp_path):
    folder = _touch(tmp_path / "empty", "readme.txt")
    with pytest.raises(InputError, match=r"empty.*\.tif .*\.jp2"):
        expand_inputs([folder])


def test_pattern_expanded_sorted_and_no_match_is_an_error(tmp_path):
    _touch(tmp_path, "t2.tif", "t1.tif", "t10.png")
    assert [p.name for p in expand_inputs([str(tmp_path / "t?.tif")])] == ["t1.tif", "t2.tif"]
    with pytest.raises(InputError, match=r"x\*\.tif"):
        expand_inputs([str(tmp_path / "x*.tif")])


def test_double_star_pattern_is_recursive(tmp_path, monkeypatch):
    # '**' read only the files one folder down (1 of 6), as '*' does, without a word
    _touch(tmp_path / "city", "t1.tif", "t2.tif", ".hidden.tif")
    _touch(tmp_path / "city" / "sub", "t3.tif")
    _touch(tmp_path / "city" / "sub" / "deep", "t4.tif")
    monkeypatch.chdir(tmp_path)
    assert sorted(p.as_posix() for p in expand_inputs(["city/**/*.tif"])) == [
        "city/sub/deep/t4.tif", "city/sub/t3.tif", "city/t1.tif", "city/t2.tif"]


def test_dangling_links_in_a_folder_or_pattern_are_kept(tmp_path):
    # left out without a word, where the shell's expansion of the same pattern fails
    _touch(tmp_path / "city", "a.tif")
    links = tmp_path / "lnk"
    links.mkdir()
    (links / "a.tif").symlink_to(tmp_path / "city" / "a.tif")
    (links / "broken.tif").symlink_to(tmp_path / "city" / "nothere.tif")
    (links / "sub").symlink_to(tmp_path / "city")  # a link to a folder is no input
    expected = ["a.tif", "broken.tif"]
    assert [p.name for p in expand_inputs([links])] == expected
    assert [p.name for p in expand_inputs([str(links / "*")])] == expected


def test_a_dangling_link_in_a_folder_fails_naming_it(run_cli, tmp_path):
    from tests.conftest import assert_one_line_error

    write_raster(tmp_path / "a.tif", np.zeros((8, 8), "uint8"))
    links = tmp_path / "lnk"
    links.mkdir()
    (links / "a.tif").symlink_to(tmp_path / "a.tif")
    (links / "broken.tif").symlink_to(tmp_path / "nothere.tif")
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=UTM_CRS).to_file(labels)
    for inputs in (links, str(links / "*.tif")):
        assert_one_line_error(run_cli("vectorize", inputs, "-o", tmp_path / "v.gpkg"),
                              "broken.tif", "no such file")
        # before any work: a.tif's mask is not written either
        assert_one_line_error(run_cli("make-masks", labels, inputs, "-o", tmp_path / "m"),
                              "broken.tif", "no such file")
    assert not (tmp_path / "v.gpkg").exists() and not (tmp_path / "m").exists()


def test_existing_file_with_brackets_virtual_paths_and_duplicates_pass(tmp_path):
    odd = _touch(tmp_path, "tile[1].tif", "a.tif") / "tile[1].tif"
    zipped, remote = "/vsizip/city.zip/a.tif", "s3://bucket/city/a.tif"
    result = expand_inputs([odd, zipped, remote, str(tmp_path), odd])
    # a file named twice stays twice: the commands refuse it in one line
    assert [str(p) for p in result] == [str(odd), zipped, remote, str(tmp_path / "a.tif"),
                                        str(odd), str(odd)]
    with pytest.raises(InputError, match="cannot be listed"):  # no longer sent to GDAL as is
        expand_inputs(["s3://bucket/city/*.tif"])


# ---------------------------------------------------------------------------- mosaics


#: tile size: the 3 x 3 scene (600 x 720) is larger than a COG block, so it has overviews
TH, TW = 200, 240


def _scene(dtype="uint8", nodata=None):
    """A 2-band scene of 3 x 3 tiles with varied values."""
    rows, cols = np.mgrid[0:3 * TH, 0:3 * TW]
    scene = np.stack([(rows * 7 + cols * 3) % 200, (rows + cols) % 5]).astype(dtype)
    if nodata is not None:
        scene[:, :4, :4] = nodata
    return scene


def _cut(tmp_path, scene, folder="tiles", tags=None, nodata=None, colours=None, shift=0.0):
    """Cut ``scene`` into 3 x 3 GeoTIFF tiles (the last one moved by ``shift`` pixels)."""
    out = tmp_path / folder
    out.mkdir()
    transform = from_origin(*UTM_ORIGIN, 0.5, 0.5)
    paths = []
    for i in range(3):
        for j in range(3):
            window = Window(j * TW, i * TH, TW, TH)
            tile = rasterio.windows.transform(window, transform)
            if (i, j) == (2, 2):
                tile = tile * rasterio.Affine.translation(shift, 0)
            path = write_raster(out / f"t{i}{j}.tif", scene[:, window.toslices()[0],
                                                          window.toslices()[1]],
                                transform=tile, nodata=nodata)
            with rasterio.open(path, "r+") as dst:
                dst.update_tags(**(tags or {}))
                dst.descriptions = ("first", "second", "third")[:len(scene)]
                if colours:
                    dst.write_colormap(1, colours)
            paths.append(path)
    return paths, transform


def _assert_scene(path, scene, transform):
    with rasterio.open(path) as merged:
        assert merged.crs == rasterio.crs.CRS.from_user_input(UTM_CRS)
        assert merged.transform.almost_equals(transform)
        np.testing.assert_array_equal(merged.read(), scene)
        return merged.profile, merged.tags(), merged.descriptions


def test_vrt_and_cog_read_back_the_scene(tmp_path):
    scene = _scene(nodata=255)
    tags = {"GEOTILE_OUTPUT": "class", "GEOTILE_CLASS_NAMES": '["a", "b"]',
            "GEOTILE_COMPLETE": "digest-of-one-tile", "OTHER": "x"}
    colours = {0: (0, 0, 0, 0), 1: (230, 25, 75, 255)}
    paths, transform = _cut(tmp_path, scene, tags=tags, nodata=255, colours=colours)

    vrt = merge_rasters(paths[::-1], tmp_path / "merged.vrt")
    profile, vrt_tags, descriptions = _assert_scene(vrt, scene, transform)
    assert profile["nodata"] == 255 and profile["count"] == 2 and profile["dtype"] == "uint8"
    assert vrt_tags == {"GEOTILE_OUTPUT": "class", "GEOTILE_CLASS_NAMES": '["a", "b"]'}
    assert descriptions == ("first", "second")
    with rasterio.open(vrt) as src:
        assert src.colormap(1)[1] == (230, 25, 75, 255)
    names = [e.text for e in ET.parse(vrt).getroot().iter("SourceFilename")]
    assert "tiles/t22.tif" in names  # relative to the VRT

    cog = merge_rasters(paths, tmp_path / "merged.tif")
    profile, cog_tags, descriptions = _assert_scene(cog, scene, transform)
    assert profile["nodata"] == 255 and cog_tags["GEOTILE_OUTPUT"] == "class"
    assert descriptions == ("first", "second")
    with rasterio.open(cog) as src:
        assert src.overviews(1) and src.colormap(1)[1] == (230, 25, 75, 255)
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_class_overviews_take_the_mode_probabilities_the_mean(tmp_path):
    scene = np.zeros((1, 3 * TH, 3 * TW), "uint8")
    scene[0, ::2, ::2] = 4  # one pixel of each 2 x 2 block: its mode is 0, its mean 1
    for name, output, expected in (("classes", "class", 0), ("probabilities", "probability", 1)):
        paths, _ = _cut(tmp_path, np.concatenate([scene, scene]), folder=name,
                        tags={"GEOTILE_OUTPUT": output})
        merged = merge_rasters(paths, tmp_path / f"{name}.tif")
        with rasterio.open(merged) as src:
            overview = src.read(1, out_shape=(3 * TH // 2, 3 * TW // 2))
        assert set(np.unique(overview)) == {expected}, name


@pytest.mark.parametrize("nodata", [-1.0, float("nan")])
def test_float_scene_with_nodata(tmp_path, nodata):
    scene = (_scene("float32") / 7).astype("float32")
    scene[:, :4, :4] = nodata
    paths, transform = _cut(tmp_path, scene, nodata=nodata)
    for name in ("m.vrt", "m.tif"):
        with rasterio.open(merge_rasters(paths, tmp_path / name)) as merged:
            assert merged.transform.almost_equals(transform)
            np.testing.assert_array_equal(merged.read(), scene)  # NaN equals NaN here
            assert np.isnan(merged.nodata) if np.isnan(nodata) else merged.nodata == nodata


def test_merge_refuses_existing_output_and_an_input(tmp_path):
    paths, _ = _cut(tmp_path, _scene())
    (tmp_path / "m.vrt").write_text("old")
    with pytest.raises(OutputExistsError, match="overwrite"):
        merge_rasters(paths, tmp_path / "m.vrt")
    merge_rasters(paths, tmp_path / "m.vrt", overwrite=True)
    with pytest.raises(InputError, match="one of the inputs"):
        merge_rasters(paths, paths[3], overwrite=True)


def test_other_crs_refused(tmp_path):
    paths, _ = _cut(tmp_path, _scene())
    other = write_raster(tmp_path / "other.tif", _scene()[:, :30, :40], crs="EPSG:32617")
    with pytest.raises(InputError, match="gdalwarp"):
        merge_rasters([*paths, other], tmp_path / "m.vrt")


def test_tiles_without_georeferencing_are_refused(tmp_path, run_cli):
    """Photos without georeferencing all sit at (0, 0): a mosaic of them would stack them."""
    from .conftest import assert_one_line_error
    from .onnx_models import pointwise_model

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.tif", "b.tif"):
        write_raster(folder / name, _scene()[:, :30, :40], crs=None,
                     transform=rasterio.Affine.identity())
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"), folder, "-o",
                     tmp_path / "out", "--merge", tmp_path / "all.tif", "--tile-size", "32")
    assert_one_line_error(result, "a.tif", "no georeferencing", "leave out --merge")
    assert not (tmp_path / "all.tif").exists()


# -------------------------------------------------------------------------------- CLI


def _labels(tmp_path):
    x0, y0 = UTM_ORIGIN
    path = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(x0 + 10, y0 - 40, x0 + 50, y0 - 5)],
                     crs=UTM_CRS).to_file(path)
    return path


def test_misaligned_tiles_refused_in_one_line(tmp_path, run_cli):
    _cut(tmp_path, _scene(), shift=0.5)
    result = run_cli("make-masks", _labels(tmp_path), tmp_path / "tiles", "-o",
                     tmp_path / "masks", "--merge", tmp_path / "masks.vrt")
    from tests.conftest import assert_one_line_error

    assert_one_line_error(result, "t22.tif", "not aligned", "gdalwarp")
    assert not (tmp_path / "masks.vrt").exists()
    assert not (tmp_path / "masks").exists()  # refused before any work


def test_make_masks_folder_to_merged_vrt(tmp_path, run_cli, monkeypatch):
    scene = _scene()
    _cut(tmp_path, scene)
    labels = _labels(tmp_path)
    whole = write_raster(tmp_path / "whole.tif", scene)
    monkeypatch.chdir(tmp_path)
    result = run_cli("make-masks", "labels.geojson", "tiles/", "-o", "masks/",
                     "--merge", "masks.vrt")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "masks").glob("*.tif")) == \
        [f"t{i}{j}.tif" for i in range(3) for j in range(3)]
    reference = run_cli("make-masks", labels, whole, "-o", tmp_path / "whole_mask.tif")
    assert reference.exit_code == 0, reference.output
    with rasterio.open(tmp_path / "masks.vrt") as merged, \
            rasterio.open(tmp_path / "whole_mask.tif") as src:
        assert merged.transform == src.transform and merged.crs == src.crs
        mask = merged.read(1)
        np.testing.assert_array_equal(mask, src.read(1))
        assert mask.sum() == 70 * 80  # 40 x 35 m at 0.5 m, across tiles
        assert json.loads(merged.tags()["GEOTILE_CLASS_NAMES"])


@pytest.mark.parametrize("suffix", [".vrt", ".tif"])
def test_what_no_tile_covers_is_nodata_in_the_mosaic(tmp_path, run_cli, suffix):
    """Tiles with a gap between them (the middle tile of each row missing): in a uint8
    probability mosaic the gap is masked (0 and 255 are probabilities), in a mask mosaic it
    is the ignore value 255, declared; no gap pixel reads as a valid 0."""
    from tests.onnx_models import pointwise_model

    paths, _ = _cut(tmp_path, _scene())
    kept = [p for p in paths if not p.stem.endswith("1")]  # columns 0 and 2 of each row
    model = pointwise_model(tmp_path / "m.onnx", channels=2)
    result = run_cli("predict", model, *kept, "-o", tmp_path / "p", "--dtype", "uint8",
                     "--merge", tmp_path / f"p{suffix}")
    assert result.exit_code == 0, result.output
    result = run_cli("make-masks", _labels(tmp_path), *kept, "-o", tmp_path / "m",
                     "--merge", tmp_path / f"m{suffix}")
    assert result.exit_code == 0, result.output
    gap = np.zeros((3 * TH, 3 * TW), bool)
    gap[:, TW : 2 * TW] = True
    with rasterio.open(tmp_path / f"p{suffix}") as src:
        np.testing.assert_array_equal(src.dataset_mask() == 0, gap)
    with rasterio.open(tmp_path / f"m{suffix}") as src:
        assert src.nodata == 255
        mask = src.read(1)
        assert (mask[gap] == 255).all() and (mask[~gap] != 255).all()


def test_merge_path_may_not_be_an_output(tmp_path, run_cli):
    _cut(tmp_path, _scene())
    result = run_cli("make-masks", _labels(tmp_path), str(tmp_path / "tiles" / "t*.tif"),
                     "-o", tmp_path / "masks", "--merge", tmp_path / "masks" / "t00.tif")
    from tests.conftest import assert_one_line_error

    assert_one_line_error(result, "t00.tif")
    assert not (tmp_path / "masks").exists()
    inside = run_cli("make-masks", _labels(tmp_path), str(tmp_path / "tiles"),
                     "-o", tmp_path / "masks", "--merge", tmp_path / "masks" / "city.vrt")
    assert_one_line_error(inside, "city.vrt", "beside the outputs' folder")
    assert not (tmp_path / "masks").exists()


def test_predict_pattern_merged_cog_equals_the_whole_scene(tmp_path, run_cli):
    from tests.onnx_models import pointwise_model

    scene = np.stack([_scene()[0], _scene()[0][::-1], _scene()[1] * 40])
    _cut(tmp_path, scene)
    whole = write_raster(tmp_path / "whole.tif", scene)
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    common = ("--output-type", "class", "--tile-size", "64", "--overlap", "0")
    result = run_cli("predict", model, str(tmp_path / "tiles" / "t*.tif"), "-o",
                     tmp_path / "pred", "--merge", tmp_path / "city.tif", *common)
    assert result.exit_code == 0, result.output
    # the merged grid stated: size, pixel size and CRS
    assert "city.tif: mosaic of 9 outputs, 720 x 600 px of 0.5 x 0.5 m, EPSG:32616" \
        in result.output
    reference = run_cli("predict", model, whole, "-o", tmp_path / "whole_pred.tif", *common)
    assert reference.exit_code == 0, reference.output
    with rasterio.open(tmp_path / "city.tif") as merged, \
            rasterio.open(tmp_path / "whole_pred.tif") as src:
        assert merged.transform == src.transform and merged.crs == src.crs
        classes = merged.read(1)
        np.testing.assert_array_equal(classes, src.read(1))
        assert len(np.unique(classes)) > 1  # not a constant picture
        assert merged.tags()["GEOTILE_OUTPUT"] == "class" and merged.overviews(1)
        assert merged.colormap(1)[1] == src.colormap(1)[1]


@pytest.mark.parametrize("suffix", [".tif", ".vrt"])
def test_merge_of_pixel_is_point_outputs_is_pixel_is_point(tmp_path, run_cli, suffix):
    """Tiles georeferenced PixelIsPoint (AREA_OR_POINT=Point) give outputs that keep it, but
    their --merge mosaic said Area: a reader that takes the GeoTIFF tie point as it is
    (GDAL's GTIFF_POINT_GEO_IGNORE=TRUE) put the merged COG half a pixel (0.25 m) off its
    own tiles and the images. The mosaic says Point too, so it lies on them either way."""
    from tests.onnx_models import pointwise_model

    scene = np.random.default_rng(4).integers(1, 256, (3, 40, 60)).astype("uint8")
    (tmp_path / "tiles").mkdir()
    for i, col in enumerate((0, 30)):
        path = write_raster(tmp_path / "tiles" / f"t{i}.tif", scene[:, :, col : col + 30],
                            transform=from_origin(UTM_ORIGIN[0] + col * 0.5, UTM_ORIGIN[1],
                                                  0.5, 0.5))
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(AREA_OR_POINT="Point")
    merged = tmp_path / f"city{suffix}"
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"), tmp_path / "tiles",
                     "-o", tmp_path / "pred", "--merge", merged, "--tile-size", "64")
    assert result.exit_code == 0, result.output
    for ignore in ("FALSE", "TRUE"):
        with rasterio.Env(GTIFF_POINT_GEO_IGNORE=ignore), \
                rasterio.open(tmp_path / "tiles" / "t0.tif") as image, \
                rasterio.open(tmp_path / "pred" / "t0.tif") as output, \
                rasterio.open(merged) as mosaic:
            assert output.tags()["AREA_OR_POINT"] == mosaic.tags()["AREA_OR_POINT"] == "Point"
            assert output.transform == image.transform
            if suffix == ".tif":  # a VRT's geotransform is read as written, whatever GDAL's
                assert mosaic.transform == image.transform, ignore  # setting says
            np.testing.assert_array_equal(mosaic.read(1)[:, :30], output.read(1))


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_merged_cog_takes_the_creation_options_of_the_outputs(tmp_path, run_cli, command):
    """--co COMPRESS=LZW --co PREDICTOR=2 reached the per-tile outputs but the --merge COG
    stayed DEFLATE: the option was silently ignored for the one file most users keep."""
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, np.stack([_scene()[0]] * 3))
    if command == "predict":
        head = ("predict", pointwise_model(tmp_path / "m.onnx"), "--dtype", "uint8")
    else:
        gpd.GeoDataFrame(geometry=[box(UTM_ORIGIN[0] + 5, UTM_ORIGIN[1] - 40, UTM_ORIGIN[0] + 40,
                                       UTM_ORIGIN[1] - 5)], crs=UTM_CRS).to_file(
            tmp_path / "b.geojson")
        head = ("make-masks", tmp_path / "b.geojson")
    result = run_cli(*head, str(tmp_path / "tiles" / "t*.tif"), "-o", tmp_path / "out",
                     "--merge", tmp_path / "city.tif", "--co", "COMPRESS=LZW",
                     "--co", "PREDICTOR=2")
    assert result.exit_code == 0, result.output
    with rasterio.open(next((tmp_path / "out").glob("*.tif"))) as tile, \
            rasterio.open(tmp_path / "city.tif") as merged:
        assert tile.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "LZW"
        structure = merged.tags(ns="IMAGE_STRUCTURE")
        assert (structure["COMPRESSION"], structure["PREDICTOR"]) == ("LZW", "2")
        assert structure["LAYOUT"] == "COG" and merged.overviews(1)


def test_merged_cog_refuses_an_option_the_cog_driver_cannot_take_before_any_work(
        tmp_path, run_cli):
    from tests.conftest import assert_one_line_error
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, np.stack([_scene()[0]] * 3))
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"),
                     str(tmp_path / "tiles" / "t*.tif"), "-o", tmp_path / "out", "--merge",
                     tmp_path / "city.tif", "--co", "BLOCKXSIZE=64", "--co", "BLOCKYSIZE=128")
    assert_one_line_error(result, "BLOCKXSIZE", "square")
    assert not (tmp_path / "out").exists() and not (tmp_path / "city.tif").exists()


def test_merged_cog_refuses_jpeg_on_three_probability_bands_before_any_work(
        tmp_path, run_cli):
    """--dtype uint8 --co COMPRESS=JPEG --merge city.tif of a 3-class model: the tiles kept
    their bands apart but the COG driver stored the mosaic as YCbCr colour (pixels off by up
    to 144/255), exit 0."""
    from tests.conftest import assert_one_line_error
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, np.stack([_scene()[0]] * 3))
    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="softmax")
    result = run_cli("predict", model, str(tmp_path / "tiles" / "t*.tif"), "-o",
                     tmp_path / "out", "--dtype", "uint8", "--co", "COMPRESS=JPEG",
                     "--merge", tmp_path / "city.tif")
    assert_one_line_error(result, "COMPRESS=JPEG", "3 bands", "YCbCr", ".vrt")
    assert not (tmp_path / "out").exists() and not (tmp_path / "city.tif").exists()
    result = run_cli("predict", model, str(tmp_path / "tiles" / "t*.tif"), "-o",
                     tmp_path / "out", "--dtype", "uint8", "--co", "COMPRESS=JPEG",
                     "--merge", tmp_path / "city.vrt")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "t00.tif") as tile, \
            rasterio.open(tmp_path / "city.vrt") as merged:
        assert np.array_equal(merged.read(window=Window(0, 0, TW, TH)), tile.read())


def test_merge_tif_names_itself_when_the_cog_driver_refuses_an_outputs_option(
        tmp_path, run_cli):
    """--co TILED=NO (striped GeoTIFF outputs) with --merge city.tif was refused as "GDAL's
    COG driver refuses it", though nothing asked for a COG: the line now says the --merge
    .tif mosaic is the COG, and a .vrt mosaic takes the option."""
    from tests.conftest import assert_one_line_error
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, np.stack([_scene()[0]] * 3))
    model = pointwise_model(tmp_path / "m.onnx")
    args = ("predict", model, str(tmp_path / "tiles" / "t*.tif"), "-o", tmp_path / "out",
            "--co", "TILED=NO", "--merge")
    assert_one_line_error(run_cli(*args, tmp_path / "city.tif"), "TILED=NO", "--merge",
                          "city.tif", ".vrt")
    assert not (tmp_path / "out").exists() and not (tmp_path / "city.tif").exists()
    result = run_cli(*args, tmp_path / "city.vrt")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "t00.tif") as tile:
        assert not tile.profile.get("tiled")


def test_vectorize_and_tile_take_folders(tmp_path, run_cli):
    scene = np.zeros((1, 3 * TH, 3 * TW), "uint8")
    scene[0, 10:50, 230:250] = 1  # one building across tiles t00 and t01
    _cut(tmp_path, scene)
    result = run_cli("vectorize", tmp_path / "tiles", "-o", tmp_path / "b.gpkg")
    assert result.exit_code == 0, result.output
    polygons = gpd.read_file(tmp_path / "b.gpkg")
    assert len(polygons) == 1 and polygons.area.sum() == pytest.approx(40 * 20 * 0.25)
    result = run_cli("tile", str(tmp_path / "tiles" / "t0?.tif"), "--size", "100",
                     "-o", tmp_path / "patches", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["written"] == 3 * 2 * 3  # 3 tiles of 2 x 3 patches


def test_resume_replaces_a_mosaic_geotile_wrote_only(tmp_path, run_cli, monkeypatch):
    _cut(tmp_path, _scene())
    _labels(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ("make-masks", "labels.geojson", "tiles", "-o", "masks", "--merge", "masks.vrt")
    assert run_cli(*args[:-2]).exit_code == 0
    again = run_cli(*args, "--resume")  # --merge never changes the per-image outputs
    assert again.exit_code == 0, again.output
    assert again.output.count("skipped (--resume)") == 9
    assert "masks.vrt: mosaic of 9 outputs" in again.output
    with rasterio.open("masks.vrt") as merged:
        assert merged.read(1).sum() == 70 * 80
    Path("masks.vrt").write_text("someone else's file")
    from tests.conftest import assert_one_line_error

    assert_one_line_error(run_cli(*args, "--resume"), "masks.vrt", "--overwrite")
    assert Path("masks.vrt").read_text() == "someone else's file"


@pytest.mark.parametrize("suffix", [".vrt", ".tif"])
def test_uint8_mosaic_takes_each_pixel_from_a_tile_with_data(tmp_path, run_cli, suffix):
    """Two overlapping images with nodata collars, uint8 probabilities (an internal mask, no
    nodata value): where the later image is nodata the mosaic shows the earlier image's
    prediction, valid, not the later one's filler; where both hold data the later wins."""
    from tests.onnx_models import pointwise_model

    rng = np.random.default_rng(3)
    first = rng.integers(1, 255, (3, 60, 80)).astype("uint8")
    second = rng.integers(1, 255, (3, 60, 80)).astype("uint8")
    first[:, :, :10] = 0  # collars (nodata 0)
    second[:, :20, :] = 0
    second[:, :, :10] = 0
    transform = from_origin(*UTM_ORIGIN, 0.5, 0.5)
    a = write_raster(tmp_path / "a.tif", first, transform=transform, nodata=0)
    b = write_raster(tmp_path / "b.tif", second, nodata=0,
                     transform=transform * rasterio.Affine.translation(30, 20))
    model = pointwise_model(tmp_path / "m.onnx", classes=2)
    result = run_cli("predict", model, a, b, "-o", tmp_path / "p", "--dtype", "uint8",
                     "--tile-size", "32", "--merge", tmp_path / f"p{suffix}")
    assert result.exit_code == 0, result.output
    values = np.zeros((2, 80, 110), "uint8")
    valid = np.zeros((80, 110), bool)
    outputs = {}
    for name, (row, col) in (("a", (0, 0)), ("b", (20, 30))):  # later wins where valid
        with rasterio.open(tmp_path / "p" / f"{name}.tif") as out:
            pixels, mask = out.read(), out.dataset_mask() > 0
        window = values[:, row : row + 60, col : col + 80]
        window[:, mask] = pixels[:, mask]
        outputs[name] = pixels
        valid[row : row + 60, col : col + 80] |= mask
    with rasterio.open(tmp_path / f"p{suffix}") as merged:
        np.testing.assert_array_equal(merged.dataset_mask() > 0, valid)
        np.testing.assert_array_equal(merged.read()[:, valid], values[:, valid])
        # where b's collars lie over a's data: a's prediction
        np.testing.assert_array_equal(merged.read()[:, 20:40, 30:80],
                                      outputs["a"][:, 20:40, 30:80])
    assert valid[20:60, 30:40].all() and valid[20:40, 30:80].all()
    assert not valid[:20, 80:].any() and not valid[60:, :30].any()  # no tile: gaps


def test_a_uint8_mosaic_on_a_gdal_without_mask_band_sources_is_refused(tmp_path, run_cli,
                                                                      monkeypatch):
    """GDAL before 3.9 ignores a VRT source's UseMaskBand: the mosaic would lose data where
    tiles overlap, so it is refused in one line (the outputs themselves are written)."""
    from tests.onnx_models import pointwise_model

    from .conftest import assert_one_line_error

    monkeypatch.setattr(rasterio, "__gdal_version__", "3.8.4")
    image = write_raster(tmp_path / "a.tif", np.full((3, 40, 40), 7, np.uint8), nodata=0)
    model = pointwise_model(tmp_path / "m.onnx")
    assert_one_line_error(run_cli("predict", model, image, "-o", f"{tmp_path / 'p'}/", "--dtype",
                                  "uint8", "--tile-size", "32", "--merge", tmp_path / "p.vrt"),
                          "GDAL 3.9", "--dtype float32")
    assert not (tmp_path / "p.vrt").exists()


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_many_inputs_cost_file_checks_in_proportion(tmp_path, run_cli, monkeypatch, command):
    # each output was compared with every input (n² path resolutions: 2000 tiles spent
    # 170 s before the first); the file-system calls per input must not grow with n
    import os

    from tests.onnx_models import pointwise_model

    n = 150
    (tmp_path / "tiles").mkdir()
    for i in range(n):
        write_raster(tmp_path / "tiles" / f"t{i:03d}.tif", np.zeros((3, 4, 4), "uint8"))
    first = pointwise_model(tmp_path / "m.onnx")
    if command == "make-masks":
        first = tmp_path / "labels.geojson"
        gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=UTM_CRS).to_file(first)
    calls = {"n": 0}
    for name in ("stat", "lstat"):
        real = getattr(os, name)

        def counted(*args, _real=real, **kwargs):
            calls["n"] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, counted)
    result = run_cli(command, first, tmp_path / "tiles", "-o", tmp_path / "out", "-q")
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out").glob("*.tif"))) == n
    assert calls["n"] < 300 * n  # about 50 per input; comparing all pairs took 1800


@pytest.mark.parametrize("inputs", ["tiles", "tiles/t0?.tif", "tiles/t00.tif"])
def test_merge_into_the_folder_the_images_were_read_from_is_refused(tmp_path, run_cli,
                                                                    monkeypatch, inputs):
    # --merge tiles/all.vrt was written, and the next run over tiles/ read it as a tile
    from tests.conftest import assert_one_line_error

    _cut(tmp_path, _scene())
    _labels(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (tmp_path / "tiles").iterdir())
    result = run_cli("make-masks", "labels.geojson", inputs, "-o", "masks/",
                     "--merge", "tiles/all.vrt")
    if inputs == "tiles/t00.tif":  # a file named as itself: no folder was read
        assert result.exit_code == 0, result.output
        return
    assert_one_line_error(result, "tiles/all.vrt", "input folder", "--merge all.vrt")
    assert sorted(p.name for p in (tmp_path / "tiles").iterdir()) == before
    assert not (tmp_path / "masks").exists()


@pytest.mark.parametrize("command", ["make-masks", "predict"])
@pytest.mark.parametrize("name", ["m.tif", "m.vrt", "sub/m.vrt"])
def test_merge_into_a_read_only_folder_is_refused_before_any_work(tmp_path, run_cli,
                                                                 monkeypatch, command, name):
    """--merge ro/m.tif on a read-only file system ran every image, then failed naming a
    temporary file (ro/.m.11101.merge.vrt) with "Free space" advice."""
    import errno
    import os

    from tests.conftest import assert_one_line_error
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, _scene())
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):  # a read-only mount, as root sees it too
        if Path(path).parent == read_only and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    first = _labels(tmp_path) if command == "make-masks" else pointwise_model(
        tmp_path / "m.onnx", channels=2)
    result = run_cli(command, first, tmp_path / "tiles", "-o", tmp_path / "out", "-q",
                     "--merge", read_only / name)  # -q: not the empty masks' warnings
    assert_one_line_error(result, f"ro/{name}", "not writable", "Read-only file system")
    assert ".tmp" not in result.stderr and "Free space" not in result.stderr
    assert not (tmp_path / "out").exists() and list(read_only.iterdir()) == []


def test_resume_removes_what_a_run_killed_while_merging_left(tmp_path, run_cli, monkeypatch):
    """A run killed while writing --merge city.tif left the COG's temporary file, its
    overviews' and the VRT it was made from beside city.tif (a city's: GBs); --resume
    removes them, as it does those beside the outputs."""
    import geotile.merge
    from tests.onnx_models import pointwise_model

    _cut(tmp_path, _scene())
    model = pointwise_model(tmp_path / "m.onnx", channels=2)
    monkeypatch.chdir(tmp_path)
    written = []
    real = geotile.merge.write_cog

    def recorded(source, target, *args, **kwargs):
        written.extend([Path(source), Path(target), Path(f"{target}.ovr.tmp")])
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(geotile.merge, "write_cog", recorded)
    args = ("predict", model, "tiles", "-o", "pred", "--tile-size", "64", "--merge",
            "city.tif")
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    assert len(written) == 3 and not any(p.exists() for p in written)
    for leftover in written:  # as the killed run left them
        leftover.write_bytes(b"partial")
    Path("city.tif").unlink()
    again = run_cli(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with rasterio.open("city.tif") as merged:
        assert merged.shape == (3 * TH, 3 * TW)


@pytest.mark.parametrize("suffix", [".vrt", ".tif"])
def test_merge_of_overlapping_outputs_does_not_depend_on_their_order(tmp_path, suffix):
    """Two predictions of overlapping images merged as given, then reversed: the 200 x 100 px
    overlap came from the file given last, so 20000 of 100000 merged pixels changed."""
    x, y = UTM_ORIGIN
    a = write_raster(tmp_path / "a.tif", np.full((1, 200, 300), 10, np.uint8),
                     transform=from_origin(x, y, 0.5, 0.5))
    b = write_raster(tmp_path / "b.tif", np.full((1, 200, 300), 20, np.uint8),
                     transform=from_origin(x + 100, y, 0.5, 0.5))
    merged = []
    for name, order in (("f", [a, b]), ("r", [b, a])):
        with rasterio.open(merge_rasters(order, tmp_path / f"{name}{suffix}")) as src:
            merged.append(src.read(1))
    assert (merged[0] == merged[1]).all()
    assert (merged[0][:, 200:300] == 20).all()  # the later file name wins, as documented
    from click.testing import CliRunner

    from geotile.cli.main import cli

    text = " ".join(CliRunner().invoke(cli, ["predict", "--help"]).output.split())
    assert "where outputs overlap, the later file name wins" in text


@pytest.mark.parametrize("suffix", [".vrt", ".tif"])
def test_merge_refuses_rgba_beside_rgb(tmp_path, suffix):
    """merge_rasters of an RGBA tile (a.tif) beside an RGB tile: since predict --mosaic
    stopped counting alpha bands, the merge took them as one band layout: the .vrt was
    written with a band 4 that b.tif lacks (unreadable), the .tif failed as 'GDAL could not
    write it ... Free space'. Merged rasters need the same bands: one line naming both."""
    x0, y0 = UTM_ORIGIN
    rgba = np.full((4, 8, 8), 255, np.uint8)
    a = write_raster(tmp_path / "a.tif", rgba, photometric="RGB", alpha="YES")
    b = write_raster(tmp_path / "b.tif", rgba[:3], transform=from_origin(x0 + 4, y0, 0.5, 0.5))
    with rasterio.open(a) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    with pytest.raises(InputError, match=r"b.tif: 3 bands, a.tif has 4"):
        merge_rasters([a, b], tmp_path / f"m{suffix}")
    assert not (tmp_path / f"m{suffix}").exists()


def _under_file_limit(limit: int, *args: str):
    """``python *args`` run in a subprocess whose open-file limit (ulimit -n) is ``limit``."""
    import resource
    import subprocess
    import sys

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return subprocess.run([sys.executable, *map(str, args)], preexec_fn=lower,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("suffix", [".tif", ".vrt"])
def test_mosaic_of_more_tiles_than_ulimit_n_is_written_and_read(tmp_path, suffix):
    # GDAL keeps up to 100 of a VRT's sources open whatever the limit: under ulimit -n 64
    # a --merge .tif of 120 tiles failed "Too many open files" (advising to free space),
    # and vectorize of a VRT of them called a tile "damaged or truncated"
    n = 120
    (tmp_path / "tiles").mkdir()
    for i in range(n):
        transform = from_origin(UTM_ORIGIN[0] + 4 * i, UTM_ORIGIN[1], 0.5, 0.5)
        write_raster(tmp_path / "tiles" / f"t{i:03d}.tif",
                     np.full((1, 8, 8), 200 if i % 2 else 0, "uint8"), transform=transform)
    merged = tmp_path / f"m{suffix}"
    if suffix == ".tif":
        run = _under_file_limit(64, "-c", "import glob; from geotile.merge import merge_rasters; "
                                f"merge_rasters(glob.glob({str(tmp_path / 'tiles/*.tif')!r}), "
                                f"{str(merged)!r})")
        assert run.returncode == 0, run.stderr
        with rasterio.open(merged) as src:
            band = src.read(1)
        assert band.shape == (8, 8 * n) and band[0, 8] == 200 and band[0, 0] == 0
    else:
        merge_rasters(sorted((tmp_path / "tiles").glob("*.tif")), merged)
        run = _under_file_limit(64, "-m", "geotile", "-q", "vectorize", merged, "-o",
                                tmp_path / "v.gpkg")
        assert run.returncode == 0, run.stderr
        assert len(gpd.read_file(tmp_path / "v.gpkg")) == n // 2


def test_opening_a_tile_does_not_list_its_folder_and_still_finds_its_side_cars(
        tmp_path, run_cli, monkeypatch):
    # GDAL listed the whole folder at every open (8 listings per tile: 13,123 reads of a
    # 1600-file folder for make-masks of 1600 tiles, time quadratic in their number); the
    # side-cars (a .msk mask here) must still be found by name
    from rasterio.env import get_gdal_config

    import geotile.masks

    tiles = tmp_path / "tiles"
    tiles.mkdir()
    write_raster(tiles / "a.tif", np.ones((1, 8, 8), "uint8"))
    write_raster(tiles / "b.tif", np.ones((1, 8, 8), "uint8"))
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK="NO"), rasterio.open(tiles / "b.tif", "r+") as dst:
        dst.write_mask(np.r_[np.zeros((4, 8)), np.full((4, 8), 255)].astype("uint8"))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(UTM_ORIGIN[0], UTM_ORIGIN[1] - 4, UTM_ORIGIN[0] + 4,
                                   UTM_ORIGIN[1])], crs=UTM_CRS).to_file(labels)
    seen = []
    real = geotile.masks.mask_one_image

    def spy(*args, **kwargs):
        seen.append(get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN"))
        return real(*args, **kwargs)

    monkeypatch.setattr(geotile.masks, "mask_one_image", spy)
    result = run_cli("make-masks", labels, tiles, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    assert seen == ["TRUE", "TRUE"]  # GDAL reads the folder listing of neither tile
    with rasterio.open(tmp_path / "out" / "a.tif") as plain:
        assert plain.read(1)[7, 0] == 1
    with rasterio.open(tmp_path / "out" / "b.tif") as tif_mask:
        band = tif_mask.read(1)
    assert band[0, 0] == 255 and band[7, 0] == 1  # b.tif.msk: the top half is nodata


def test_reads_work_without_the_resource_module(tmp_path, monkeypatch):
    # Windows has no ``resource`` module: sizing GDAL's pool to ulimit -n imported it
    # unguarded, so every command and library read failed with ModuleNotFoundError
    import sys

    monkeypatch.setitem(sys.modules, "resource", None)  # import resource -> ImportError
    for i in range(2):
        write_raster(tmp_path / f"t{i}.tif", np.full((1, 8, 8), 10 * (i + 1), "uint8"),
                     transform=from_origin(UTM_ORIGIN[0] + 4 * i, UTM_ORIGIN[1], 0.5, 0.5))
    merge_rasters([tmp_path / "t0.tif", tmp_path / "t1.tif"], tmp_path / "m.tif")
    with rasterio.open(tmp_path / "m.tif") as src:
        band = src.read(1)
    assert band.shape == (8, 16) and band[0, 0] == 10 and band[0, 8] == 20


def test_side_cars_named_in_another_case_are_still_found(tmp_path, run_cli):
    # with GDAL_DISABLE_READDIR_ON_OPEN (5f6ffeb) GDAL looks side-cars up by name in lower
    # and upper case only: scene.TIF's scene.tif.msk (its nodata) was lost, so make-masks
    # burnt 1 into the masked half, and c.tif's world file c.Tfw, so c.tif had no place
    import shutil
    import warnings

    tiles = tmp_path / "tiles"
    tiles.mkdir()
    write_raster(tiles / "b.tif", np.ones((1, 8, 8), "uint8"))
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK="NO"), rasterio.open(tiles / "b.tif", "r+") as dst:
        dst.write_mask(np.r_[np.zeros((4, 8)), np.full((4, 8), 255)].astype("uint8"))
    (tiles / "b.tif").rename(tiles / "scene.TIF")
    (tiles / "b.tif.msk").rename(tiles / "scene.tif.msk")
    with warnings.catch_warnings(), rasterio.open(  # no georeferencing of its own
            tiles / "c.tif", "w", driver="GTiff", width=8, height=8, count=1,
            dtype="uint8") as dst:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        dst.write(np.ones((1, 8, 8), "uint8"))
    (tiles / "c.Tfw").write_text(f"0.5\n0\n0\n-0.5\n{UTM_ORIGIN[0] + 0.25}\n"
                                 f"{UTM_ORIGIN[1] - 0.25}\n")
    shutil.copy(tiles / "c.Tfw", tiles / "c.txt")  # a file of the stem, not a side-car
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(UTM_ORIGIN[0], UTM_ORIGIN[1] - 4, UTM_ORIGIN[0] + 4,
                                   UTM_ORIGIN[1])], crs=UTM_CRS).to_file(labels)
    result = run_cli("make-masks", labels, tiles / "scene.TIF", "-o", tmp_path / "m.tif", "-q")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as src:
        band = src.read(1)
    assert band[0, 0] == 255 and band[7, 0] == 1  # the top half is nodata, as GDAL reads it
    from geotile.gdal_settings import with_read_settings
    from geotile.raster import open_raster

    with with_read_settings(open_raster)(tiles / "c.tif") as src:
        assert src.transform.c == UTM_ORIGIN[0] and src.transform.a == 0.5
