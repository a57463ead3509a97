"""Commercial VHR deliveries (tests/vendor_deliveries.py): every file of the product is
read, in place, and counts as an input."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geotile.input_sources import files_read
from tests.conftest import assert_one_line_error
from tests.onnx_models import pointwise_model
from tests.vendor_deliveries import (
    PLANET_COEFFICIENTS,
    maxar_tiles,
    planet_scene,
    pleiades_product,
    skysat_collect,
    spot5_scene,
    tile_index,
)


def test_maxar_til_reads_every_tile_in_place(tmp_path):
    til = maxar_tiles(tmp_path / "order")
    with rasterio.open(til) as src:
        assert (src.width, src.height, src.count) == (96, 64, 4)
        assert src.transform.c == 500000 and src.transform.f == 4000000
        assert not src.read(window=((0, 64), (86, 96))).any()  # the collar, in R1C2
    read = {p.name for p in files_read(til)}
    assert {f"{til.stem[:18]}_R1C1{til.stem[18:]}.TIF", f"{til.stem[:18]}_R1C2{til.stem[18:]}.TIF",
            til.with_suffix(".IMD").name, til.name} <= read


def test_predict_resume_redoes_a_til_whose_tile_changed(tmp_path, run_cli):
    til = maxar_tiles(tmp_path / "order")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    assert run_cli("predict", model, til, "-o", f"{out}/", "--scale", "0.000489").exit_code == 0
    written = out / f"{til.stem}.tif"
    with rasterio.open(written) as src:
        before = src.read(1)
    tile = sorted(til.parent.glob("*_R1C2*.TIF"))[0]
    with rasterio.open(tile, "r+") as dst:
        dst.write(np.full((4, 64, 48), 2000, "uint16"))
    result = run_cli("predict", model, til, "-o", f"{out}/", "--scale", "0.000489", "--resume")
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output + result.stderr
    with rasterio.open(written) as src:
        after = src.read(1)
    assert np.array_equal(after[:, :48], before[:, :48])
    assert not np.allclose(after[:, 48:], before[:, 48:])


def test_predict_refuses_to_write_over_a_til_tile(tmp_path, run_cli):
    til = maxar_tiles(tmp_path / "order")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    tile = sorted(til.parent.glob("*_R1C1*.TIF"))[0]
    before = tile.read_bytes()
    result = run_cli("predict", model, til, "-o", tile, "--overwrite")
    assert_one_line_error(result, tile.name, "never writes over its inputs")
    assert tile.read_bytes() == before


def test_a_folder_holding_a_til_is_its_scene_not_its_tiles(tmp_path, run_cli):
    til = maxar_tiles(tmp_path / "order")
    (tmp_path / "order" / "other.tif").write_bytes(
        sorted(til.parent.glob("*_R1C1*.TIF"))[0].read_bytes())  # a raster it does not list
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, tmp_path / "order", "-o", f"{out}/", "--scale", "0.000489")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.tif")) == sorted([f"{til.stem}.tif", "other.tif"])
    with rasterio.open(out / f"{til.stem}.tif") as src, rasterio.open(til) as scene:
        assert (src.width, src.height, src.transform) == (96, 64, scene.transform)


def test_the_collar_of_a_til_is_advised_a_vrt_not_gdal_edit(tmp_path, run_cli):
    """GDAL opens a .TIL read-only (gdal_edit.py fails on it): the fill advice names the
    VRT that declares it, which predict then leaves out."""
    til = maxar_tiles(tmp_path / "order")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, til, "-o", f"{tmp_path}/out/", "--scale", "0.000489")
    assert result.exit_code == 0, result.output
    assert "0 together" in result.stderr
    assert "gdal_edit.py" not in result.stderr
    vrt = f"{til.stem}_nodata.vrt"
    assert f"gdalbuildvrt -srcnodata 0 -vrtnodata 0 {vrt} {til.name}" in result.stderr
    import shutil
    import subprocess

    if shutil.which("gdalbuildvrt") is None:
        pytest.skip("gdalbuildvrt is not installed: the advice is not run")
    subprocess.run(["gdalbuildvrt", "-q", "-srcnodata", "0", "-vrtnodata", "0",
                    str(til.parent / vrt), str(til)], check=True)
    result = run_cli("predict", model, til.parent / vrt, "-o", f"{tmp_path}/out/", "--scale",
                     "0.000489")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / f"{til.stem}_nodata.tif") as src:
        masked = src.read(1, masked=True).mask
    assert masked[:, 86:].all() and not masked[:, :86].any()


def _warned(result) -> str:
    lines = [line for line in result.stderr.splitlines() if "go to the model as they are" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_scale_advice_names_the_bits_a_raster_declares(tmp_path, make_raster, run_cli):
    """A DIMAP's NBITS=12 (GDAL's IMAGE_STRUCTURE) says its pixels reach 4095: the advice
    names 1/4095, not the 11-bit or 16-bit examples."""
    pixels = np.random.default_rng(3).integers(1, 4096, (4, 40, 50)).astype("uint16")
    image = make_raster("dimap12.tif", pixels, NBITS=12)
    with rasterio.open(image) as src:
        assert src.tags(1, ns="IMAGE_STRUCTURE")["NBITS"] == "12"
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    warned = _warned(result)
    assert f"--scale {1 / 4095:.3g}" in warned and "NBITS=12" in warned
    assert "0.000489" not in warned and "16-bit" not in warned


def test_a_dimap_of_12_bits_is_advised_1_over_4095(tmp_path, run_cli):
    """GDAL's DIMAP driver gives a Pléiades DIM_*.XML's bands its NBITS=12."""
    dim = pleiades_product(tmp_path / "phr")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, dim, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    warned = _warned(result)
    assert dim.name in warned and f"--scale {1 / 4095:.3g}" in warned and "NBITS=12" in warned


def test_planetscope_surface_reflectance_is_advised_its_10000_scale(tmp_path, run_cli):
    """PlanetScope's ortho_analytic_4b_sr holds reflectance x 10000 in uint16: the advice
    names --scale 0.0001, not the 11-bit/16-bit examples; its udm2 beside it is no image."""
    scene = planet_scene(tmp_path / "psscene")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, scene, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    warned = _warned(result)
    assert "--scale 0.0001 " in warned and "reflectance x 10000" in warned
    assert "0.000489" not in warned


def test_planetscope_radiance_is_advised_its_reflectance_coefficients(tmp_path, run_cli):
    """ortho_analytic_4b holds radiance x 100, which no 11-bit or 16-bit --scale makes
    reflectance: the advice names the XML's coefficient per band and the gdal_translate
    that applies them, whose copy then goes in unwarned."""
    scene = planet_scene(tmp_path / "psscene", radiance=True)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, scene, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    warned = _warned(result)
    toa = f"{scene.stem}_toa.tif"
    command = ("gdal_translate -ot Float32 " + " ".join(
        f"-scale_{b} 0 1 0 {c:.6g}" for b, c in enumerate(PLANET_COEFFICIENTS, 1))
        + f" {scene.name} {toa}")
    assert command in warned and "0.000489" not in warned
    import shutil
    import subprocess

    if shutil.which("gdal_translate") is None:
        pytest.skip("gdal_translate is not installed: the advice is not run")
    subprocess.run([*command.split()[:-2], scene, tmp_path / toa, "-q"], check=True)
    with rasterio.open(scene) as src, rasterio.open(tmp_path / toa) as out:
        np.testing.assert_allclose(out.read(4)[:, 10:], src.read(4)[:, 10:] * 3.42e-05,
                                   rtol=1e-6)
    result = run_cli("predict", model, tmp_path / toa, "-o", tmp_path / "b.tif")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output


def test_a_planet_folder_is_its_image_not_its_udm2(tmp_path, run_cli):
    """A PSScene folder holds the image and its udm2 (8 uint8 bands of flags): predict
    read the udm2 as a second image and refused it (8 bands for 4 channels, advising
    --bands 1,2,3,4); the udm2 is the image's, no image of its own. Its 0 fill stays out."""
    scene = planet_scene(tmp_path / "psscene")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, scene.parent, "-o", f"{out}/", "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.tif")] == [scene.name]
    with rasterio.open(out / scene.name) as src:
        masked = src.read(1, masked=True).mask
    assert masked[:, :10].all() and not masked[:, 10:].any()


def test_two_spot5_products_are_named_by_their_folders(tmp_path, run_cli):
    """Every SPOT 5 DIMAP v1 product names its file SCENE01/METADATA.DIM: two in one run
    were refused as sharing the name METADATA; each output takes its product folder's."""
    first = spot5_scene(tmp_path / "S5_07_A", x0=600000)
    second = spot5_scene(tmp_path / "S5_07_B", x0=700000, seed=1)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, first, second, "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.tif")) == ["S5_07_A.tif", "S5_07_B.tif"]
    with rasterio.open(out / "S5_07_B.tif") as src:
        assert src.transform.c == 700000 and src.crs.to_epsg() == 32631


def _two_tiles(folder, make_raster):
    from rasterio.transform import from_origin

    folder.mkdir()
    return [make_raster(f"tiles/t{c}.tif", np.full((3, 30, 40), 50 + c, "uint8"),
                        transform=from_origin(500000 + c * 400, 4000000, 10, 10))
            for c in range(2)]


def test_a_shapefile_tile_index_is_advised_a_vrt_of_its_tiles(tmp_path, make_raster, run_cli):
    """gdaltindex's index.shp (relative 'location' paths) given as the image was refused
    with 'Give a GeoTIFF': the advice names its tiles' folder and the VRT to build, which
    predict then reads as one scene."""
    tiles = _two_tiles(tmp_path / "tiles", make_raster)
    index = tile_index(tmp_path / "index.shp", tiles, [f"tiles/{t.name}" for t in tiles])
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, index, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "index.shp", "tile index", "2 rasters",
                          f"{tmp_path / 'tiles'}", f"cd {tmp_path} && gdalbuildvrt index.vrt "
                          "index.shp")
    assert not (tmp_path / "p.tif").exists()
    import shutil
    import subprocess

    if shutil.which("gdalbuildvrt") is None:
        pytest.skip("gdalbuildvrt is not installed: the advice is not run")
    subprocess.run(["gdalbuildvrt", "-q", "index.vrt", "index.shp"], cwd=tmp_path, check=True)
    result = run_cli("predict", model, tmp_path / "index.vrt", "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p.tif") as src:
        assert (src.width, src.height, src.transform.c) == (80, 30, 500000)


def test_a_geopackage_tile_index_is_advised_its_tiles(tmp_path, make_raster, run_cli):
    """A GeoPackage index (absolute paths, in another folder): gdalbuildvrt reads no
    GeoPackage index, so the advice is its tiles' list; one not found is named."""
    tiles = _two_tiles(tmp_path / "tiles", make_raster)
    (tmp_path / "idx").mkdir()
    index = tile_index(tmp_path / "idx" / "index.gpkg", tiles, [str(t) for t in tiles])
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, index, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "index.gpkg", "tile index", f"{tmp_path / 'tiles'}",
                          "-input_file_list")
    tiles[1].unlink()
    result = run_cli("predict", model, index, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "index.gpkg", "1 of its 2 rasters", "t1.tif")


@pytest.mark.parametrize("command", ["predict", "tile"])
def test_the_udm2_clouds_of_a_planet_scene_are_said_and_the_advice_leaves_them_out(
        tmp_path, run_cli, command):
    """Its udm2 flags a cloud (20 x 20 of 86 x 64 valid pixels not clear) that predict and
    tile read as valid pixels: said, with the gdal_calc.py copy that sets them to 0, its
    nodata, which predict then leaves out."""
    scene = planet_scene(tmp_path / "psscene")
    udm2 = scene.parent / f"{scene.name.split('_3B_')[0]}_3B_udm2_clip.tif"
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    args = (["predict", model, scene, "-o", tmp_path / "a.tif", "--scale", "0.0001"]
            if command == "predict" else ["tile", scene, "-o", tmp_path / "patches",
                                          "--size", 32])
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if udm2.name in line]
    assert len(said) == 1 and f"{400 / (86 * 64) * 100:.2g} % of its valid pixels" in said[0]
    clear = tmp_path / "clear.tif"
    advice = (f"gdal_calc.py -A {scene.name} --allBands A -B {udm2.name} --B_band 1 "
              f"--calc 'A*(B==1)' --NoDataValue 0 --outfile {scene.stem}_clear.tif")
    assert advice in said[0]
    import shutil
    import subprocess

    if command == "tile" or shutil.which("gdal_calc.py") is None:
        return
    subprocess.run(["gdal_calc.py", "--quiet", "-A", scene, "--allBands", "A", "-B", udm2,
                    "--B_band", "1", "--calc", "A*(B==1)", "--NoDataValue", "0", "--outfile",
                    clear], check=True)
    result = run_cli("predict", model, clear, "-o", tmp_path / "b.tif", "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "b.tif") as src:
        masked = src.read(1, masked=True).mask
    assert masked[:20, 40:60].all() and masked[:, :10].all()
    assert masked.sum() == 20 * 20 + 64 * 10


def test_a_gti_index_is_read_with_its_tiles_as_inputs(tmp_path, make_raster, run_cli):
    """GDAL's GTI driver reads index.gti.gpkg as its tiles' mosaic (paths relative to it),
    but lists the index alone: --resume skipped it after a tile changed, and -o tile
    --overwrite replaced a tile. Its tiles are inputs now."""
    tiles = _two_tiles(tmp_path / "tiles", make_raster)
    index = tile_index(tmp_path / "index.gti.gpkg", tiles, [f"tiles/{t.name}" for t in tiles])
    assert set(files_read(index)) >= set(tiles)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    out = tmp_path / "p.tif"
    assert run_cli("predict", model, index, "-o", out).exit_code == 0
    with rasterio.open(out) as src:
        assert (src.width, src.height) == (80, 30)
        before = src.read(1)
    with rasterio.open(tiles[1], "r+") as dst:
        dst.write(np.full((3, 30, 40), 200, "uint8"))
    result = run_cli("predict", model, index, "-o", out, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(out) as src:
        assert not np.allclose(src.read(1)[:, 40:], before[:, 40:])
    result = run_cli("predict", model, index, "-o", tiles[0], "--overwrite")
    assert_one_line_error(result, tiles[0].name, "never writes over its inputs")


def test_a_skysat_collect_folder_leaves_out_both_udm2(tmp_path):
    """SkySat's <collect>_panchromatic_udm2.tif belongs to <collect>_panchromatic.tif (the
    udm's scene is the image's stem, not a prefix of it): both udm2 were read as images."""
    from geotile.input_files import expand_inputs

    folder = skysat_collect(tmp_path / "collect")
    assert [p.name for p in expand_inputs([folder])] == [
        "20200601_101530_ssc6_u0001_analytic_SR.tif",
        "20200601_101530_ssc6_u0001_panchromatic.tif"]


def test_a_skysat_folder_refused_for_its_panchromatic_names_the_analytic(tmp_path, run_cli):
    """A SkySat collect delivers its panchromatic band apart: a 4-channel model over the
    folder is refused for the 1-band pan, and the line names the collect's analytic_SR."""
    folder = skysat_collect(tmp_path / "collect")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, folder, "-o", f"{tmp_path}/out/")
    assert_one_line_error(result, "20200601_101530_ssc6_u0001_panchromatic.tif",
                          "takes 4 channels", "panchromatic band apart",
                          "give 20200601_101530_ssc6_u0001_analytic_SR.tif (4 bands)")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_folder_holding_the_advised_nodata_vrt_is_that_vrt_not_the_til(tmp_path, run_cli):
    """The collar advice's <stem>_nodata.vrt, made beside the .TIL it reads, stands for it
    in a folder: the scene was predicted twice (<stem>.tif with its collar predicted, and
    <stem>_nodata.tif); once now, through the VRT, the collar left out."""
    import shutil
    import subprocess

    if shutil.which("gdalbuildvrt") is None:
        pytest.skip("gdalbuildvrt is not installed: the advice is not run")
    til = maxar_tiles(tmp_path / "order")
    vrt = til.with_name(f"{til.stem}_nodata.vrt")
    subprocess.run(["gdalbuildvrt", "-q", "-srcnodata", "0", "-vrtnodata", "0", vrt.name,
                    til.name], cwd=til.parent, check=True)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, til.parent, "-o", f"{out}/", "--scale", "0.000489")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.tif")] == [f"{vrt.stem}.tif"]
    with rasterio.open(out / f"{vrt.stem}.tif") as src, rasterio.open(til) as scene:
        assert src.transform == scene.transform
        masked = src.read(1, masked=True).mask
    assert masked[:, 86:].all() and not masked[:, :86].any()


@pytest.mark.parametrize("inside", ["", "order/"], ids=["top", "folder"])
def test_a_zipped_delivery_is_its_scene_not_its_tiles(tmp_path, run_cli, inside):
    """Maxar ships its products zipped: the archive (its rasters at the top) or its folder
    (/vsizip/order.zip/order) was predicted tile by tile (2 outputs named _R1C1/_R1C2,
    seams, the .TIL left out); one output named by the product now, as for a folder."""
    import zipfile

    til = maxar_tiles(tmp_path / "order")
    archive = tmp_path / "order.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(til.parent.iterdir()):
            zipped.write(file, f"{inside}{file.name}")
    given = f"/vsizip/{archive}/{inside}" if inside else archive
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, given, "-o", f"{out}/", "--scale", "0.000489")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.tif")] == [f"{til.stem}.tif"]
    with rasterio.open(out / f"{til.stem}.tif") as src, rasterio.open(til) as scene:
        assert (src.width, src.height, src.transform) == (96, 64, scene.transform)


def test_a_planet_order_of_many_scenes_is_listed_in_linear_time(tmp_path, monkeypatch):
    """A Planet order over an area holds hundreds of scenes, each with its udm2: each udm
    was matched against every image (1000 scenes: 6.6 s to list the folder, at each
    command). Names are all the listing reads: empty files stand for the rasters. Linear:
    the name helpers run a bounded number of times per file, not once per udm-image pair."""
    from geotile import planet_files
    from geotile.input_files import expand_inputs

    calls = {"n": 0}

    def counting(real):
        def counted(*args, **kwargs):
            calls["n"] += 1
            return real(*args, **kwargs)
        return counted

    for name in ("udm_scene", "image_scenes", "of_scene"):
        monkeypatch.setattr(planet_files, name, counting(getattr(planet_files, name)))
    scenes = [f"20230612_10{i:04d}_12_2447" for i in range(2500)]
    for scene in scenes:
        (tmp_path / f"{scene}_3B_AnalyticMS_SR_clip.tif").touch()
        (tmp_path / f"{scene}_3B_udm2_clip.tif").touch()
    (tmp_path / "20230613_101010_12_2447_3B_udm2_clip.tif").touch()  # its image not here
    listed = expand_inputs([tmp_path])
    assert [p.name for p in listed] == sorted(
        [f"{s}_3B_AnalyticMS_SR_clip.tif" for s in scenes]
        + ["20230613_101010_12_2447_3B_udm2_clip.tif"])
    files = 2 * len(scenes) + 1
    assert 0 < calls["n"] <= 4 * files, calls  # pairwise: 6.25 million


def test_a_zipped_planet_order_is_its_image_not_its_udm2(tmp_path, run_cli):
    """Planet's Orders API delivers a zip (<order id>/PSScene/...): its folder given as
    /vsizip/order.zip/<id>/PSScene read the udm2 as a second image (8 bands for 4
    channels, advised --bands 1,2,3,4), as a local folder did before."""
    import zipfile

    scene = planet_scene(tmp_path / "abc123" / "PSScene")
    archive = tmp_path / "order.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(scene.parent.iterdir()):
            zipped.write(file, f"abc123/PSScene/{file.name}")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, f"/vsizip/{archive}/abc123/PSScene", "-o", f"{out}/",
                     "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.tif")] == [scene.name]
    with rasterio.open(out / scene.name) as src, rasterio.open(scene) as image:
        assert (src.transform, src.crs) == (image.transform, image.crs)


def test_a_folder_holding_a_udm2_without_its_image_says_so(tmp_path, run_cli):
    """A Planet folder whose image did not download (or was moved) kept its udm2, read as
    an image: refused for its 8 bands with --bands 1,2,3,4 (its clear, snow, shadow and
    haze flags), or, for an 8-channel model, predicted from flags with exit 0."""
    scene = planet_scene(tmp_path / "psscene")
    scene.unlink()
    udm2 = next(scene.parent.glob("*udm2*"))
    model = pointwise_model(tmp_path / "m.onnx", channels=8, activation="sigmoid")
    out = tmp_path / "out"
    result = run_cli("predict", model, scene.parent, "-o", f"{out}/")
    assert_one_line_error(result, udm2.name, "usable-data mask",
                          f"{scene.name[:len('20230612_101010_12_2447_3B')]}_", "not in")
    assert not out.exists() or not any(out.iterdir())
    alone = run_cli("predict", model, udm2, "-o", tmp_path / "flags.tif")  # by name: read
    assert alone.exit_code == 0, alone.output


@pytest.mark.parametrize("image, udm", [
    ("20170101_101010_0e0f_3B_AnalyticMS_SR.tif", "20170101_101010_0e0f_3B_AnalyticMS_DN_udm.tif"),
    ("4621017_2021-06-01_2416_BGRN_SR.tif", "4621017_2021-06-01_2416_BGRN_DN_udm.tif"),
    ("20230612_101010_12_2447_3B_AnalyticMS_SR_harmonized_clip.tif",
     "20230612_101010_12_2447_3B_udm2_clip.tif"),
], ids=["PSScene4Band", "PSOrthoTile", "harmonized"])
def test_planet_naming_conventions_leave_their_udm_out(tmp_path, image, udm):
    """Planet's older item types name the udm after the DN product (<...>_DN_udm.tif): a
    PSOrthoTile's _BGRN_DN_udm.tif was taken for a scene '<...>_bgrn_dn' without image."""
    from geotile.input_files import expand_inputs

    profile = {"driver": "GTiff", "width": 8, "height": 8, "crs": "EPSG:32633",
               "transform": rasterio.transform.from_origin(400000, 5000000, 3, 3)}
    with rasterio.open(tmp_path / image, "w", count=4, dtype="uint16", **profile) as dst:
        dst.write(np.ones((4, 8, 8), "uint16"))
    with rasterio.open(tmp_path / udm, "w", count=1, dtype="uint8", **profile) as dst:
        dst.write(np.zeros((1, 8, 8), "uint8"))
    assert [p.name for p in expand_inputs([tmp_path])] == [image]


def test_a_maxar_order_folder_names_its_product_folders(tmp_path, run_cli):
    """A Maxar order delivers each product in its own folder (<order>_01_P001_MUL,
    <order>_01_P001_PAN): the order given said only 'holds no raster files; Check the
    path'. The line names the folders that hold them."""
    maxar_tiles(tmp_path / "058123456010" / "058123456010_01_P001_MUL")
    maxar_tiles(tmp_path / "058123456010" / "058123456010_01_P001_PAN")
    (tmp_path / "058123456010" / "GIS_FILES").mkdir()
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, tmp_path / "058123456010", "-o", f"{tmp_path}/out/")
    assert_one_line_error(result, "holds no raster files", "058123456010_01_P001_MUL",
                          "058123456010_01_P001_PAN")
    assert "GIS_FILES" not in result.stderr and not (tmp_path / "out").exists()


def test_planetscope_8_bands_for_a_4_channel_model_are_advised_by_name(tmp_path, run_cli):
    """An ortho_analytic_8b_sr image (coastal_blue, blue, green_i, green, yellow, red,
    rededge, nir) for a 4-channel model was advised --bands 1,2,3,4: coastal blue to green,
    no red, no NIR. Its described blue, green, red and nir are bands 2,4,6,8."""
    scene = planet_scene(tmp_path / "psscene", bands=8)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, scene, "-o", tmp_path / "out.tif", "--scale", "0.0001")
    assert_one_line_error(result, "--bands 2,4,6,8 (blue, green, red, nir")
    advised = run_cli("predict", model, scene, "-o", tmp_path / "out.tif", "--scale", "0.0001",
                      "--bands", "2,4,6,8")
    assert advised.exit_code == 0, advised.output
    named = run_cli("predict", model, scene, "-o", tmp_path / "named.tif", "--scale", "0.0001",
                    "--bands", "blue,green,red,nir")
    assert named.exit_code == 0, named.output
    with rasterio.open(tmp_path / "out.tif") as a, rasterio.open(tmp_path / "named.tif") as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)


@pytest.mark.parametrize("name", ["index.parquet", "index.gti.parquet"])
def test_a_geoparquet_tile_index_is_advised_its_tiles(tmp_path, make_raster, run_cli, name):
    """gdaltindex -f Parquet writes a GeoParquet index (GDAL's GTI reads .gti.parquet),
    which pyogrio here does not read: it was 'not a raster GDAL can read ... Give a
    GeoTIFF', naming no tile. It is advised its tiles, as a GeoPackage index is."""
    tiles = _two_tiles(tmp_path / "tiles", make_raster)
    index = tile_index(tmp_path / "index.gpkg", tiles, [f"tiles/{t.name}" for t in tiles])
    import geopandas as gpd

    gpd.read_file(index).to_parquet(tmp_path / name)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, tmp_path / name, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, name, "tile index", "2 rasters", f"{tmp_path / 'tiles'}")
    assert not (tmp_path / "p.tif").exists()


def _quicklook(path):
    """A vendor's JPEG quick-look (3 uint8 bands, no georeference)."""
    with rasterio.open(path, "w", driver="JPEG", width=16, height=12, count=3,
                       dtype="uint8") as dst:
        dst.write(np.full((3, 12, 16), 90, "uint8"))


@pytest.mark.parametrize("zipped", [False, True], ids=["folder", "zip"])
def test_a_products_quicklooks_are_no_images_of_its_folder(tmp_path, run_cli, zipped):
    """Maxar's <stem>-BROWSE.JPG, Airbus' PREVIEW_/ICON_<id>.JPG and SPOT 5's PREVIEW.JPG
    and ICON.JPG lie beside the product file: they were predicted as images (a 4-channel
    model refused the folder for a 3-band ICON_*.JPG)."""
    import warnings
    import zipfile

    til = maxar_tiles(tmp_path / "d" / "mx")
    dim = pleiades_product(tmp_path / "d" / "phr")
    spot = spot5_scene(tmp_path / "d" / "S5_07_A")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JPEGs without georeference
        for quicklook in (til.parent / f"{til.stem}-BROWSE.JPG",
                          dim.parent / f"PREVIEW_{dim.stem[4:]}.JPG",
                          dim.parent / f"ICON_{dim.stem[4:]}.JPG",
                          spot.parent / "PREVIEW.JPG", spot.parent / "ICON.JPG"):
            _quicklook(quicklook)
    from geotile.input_files import expand_inputs

    for product in (til, dim, spot):
        folder = product.parent
        if zipped:
            archive = tmp_path / f"{folder.name}.zip"
            with zipfile.ZipFile(archive, "w") as zip_file:
                for file in sorted(folder.iterdir()):
                    zip_file.write(file, f"p/{file.name}")
            folder = f"/vsizip/{archive}/p"
        assert [p.name for p in expand_inputs([folder])] == [product.name]
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, dim.parent, "-o", f"{tmp_path}/out/", "--scale", "0.001")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").glob("*.tif")] == [f"{dim.stem}.tif"]


def test_a_maxar_pan_product_for_a_multispectral_model_names_the_mul(tmp_path, run_cli):
    """A Maxar order's _PAN product (1 band) given beside its _MUL over a 4-channel model
    was refused 'give the missing 3 from another raster with --extra-bands'; the line names
    the order's multispectral product, as for a SkySat collect."""
    order = tmp_path / "058123456010"
    mul = maxar_tiles(order / "058123456010_01_P001_MUL")
    pan = maxar_tiles(order / "058123456010_01_P001_PAN", pan=True)
    with rasterio.open(pan) as src:
        assert src.count == 1
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, mul.parent, pan.parent, "-o", f"{tmp_path}/out/",
                     "--scale", "0.000489")
    assert_one_line_error(result, pan.name, f"give {mul.parent.name}/{mul.name} (4 bands)")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_udm2_clouds_of_a_zipped_planet_scene_are_said(tmp_path, run_cli):
    """A zipped Planet order's scene read in place (/vsizip/...) was predicted without the
    warning a folder's gets for the pixels its udm2 flags not clear (7.3 % here): the zip's
    udm2 is found beside it, and the advice names both by their GDAL paths."""
    import zipfile

    scene = planet_scene(tmp_path / "abc123" / "PSScene")
    archive = tmp_path / "order.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(scene.parent.iterdir()):
            zipped.write(file, f"abc123/PSScene/{file.name}")
    folder = f"/vsizip/{archive}/abc123/PSScene"
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, f"{folder}/{scene.name}", "-o", tmp_path / "a.tif",
                     "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    udm2 = f"{folder}/{scene.name.split('_3B_')[0]}_3B_udm2_clip.tif"
    said = [line for line in result.stderr.splitlines() if "udm2" in line]
    assert len(said) == 1 and f"{400 / (86 * 64) * 100:.2g} % of its valid pixels" in said[0]
    assert f"-A {folder}/{scene.name} --allBands A -B {udm2} --B_band 1" in said[0]


def test_a_dimap_whose_tile_is_missing_is_said_not_left_out(tmp_path, run_cli):
    """GDAL refuses to open a DIMAP product whose IMG_*_R1C1 is missing: in a folder it was
    left out without a word (exit 0, the other rasters predicted, the scene not), and given
    itself it was 'not a raster GDAL can read ... Give a GeoTIFF'. Both name the missing
    tile and the fix now; an unrelated DIM_*.xml or .til text is still no input."""
    dim = pleiades_product(tmp_path / "phr")
    tile = next(dim.parent.glob("IMG_*"))
    tile.rename(tmp_path / tile.name)
    other = maxar_tiles(tmp_path / "other").parent / "other.tif"
    with rasterio.open(next(other.parent.glob("*_R1C1*")), "r") as src:
        profile, data = src.profile, src.read()
    with rasterio.open(dim.parent / "other.tif", "w", **profile) as dst:
        dst.write(data)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "out"
    for given in (dim.parent, dim):
        result = run_cli("predict", model, given, "-o", f"{out}/", "--scale", "0.000244")
        assert_one_line_error(result, dim.name, tile.name, "restore the delivery")
        assert "Give a GeoTIFF" not in result.stderr
        assert not out.exists()
    (tmp_path / "unrelated").mkdir()
    (tmp_path / "unrelated" / "DIM_notes.xml").write_text("<notes>not DIMAP</notes>")
    (tmp_path / "unrelated" / "readme.til").write_text("a text file\n")
    (dim.parent / "other.tif").rename(tmp_path / "unrelated" / "other.tif")
    from geotile.input_files import expand_inputs

    assert [p.name for p in expand_inputs([tmp_path / "unrelated"])] == ["other.tif"]


def test_a_zipped_dimap_whose_tile_is_missing_is_said(tmp_path, run_cli):
    """The zipped delivery's folder left such a product out silently too."""
    import zipfile

    dim = pleiades_product(tmp_path / "phr")
    archive = tmp_path / "phr.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(dim, f"phr/{dim.name}")  # its tile left out
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, f"/vsizip/{archive}/phr", "-o", f"{tmp_path}/out/")
    assert_one_line_error(result, dim.name, "IMG_PHR1A_MS_001_R1C1.TIF", "restore the delivery")


def _rgb_and_mask(folder, stem):
    """``folder``/images/<stem>.tif (3 uint8 bands) and ``folder``/masks/<stem>.tif (its
    1-band uint8 mask, the shape of a Planet udm), at 1 m in EPSG:32633."""
    rng = np.random.default_rng(7)
    profile = {"driver": "GTiff", "width": 32, "height": 32, "crs": "EPSG:32633",
               "transform": rasterio.transform.from_origin(400000, 5000000, 1, 1)}
    for sub, bands in (("images", 3), ("masks", 1)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        with rasterio.open(folder / sub / f"{stem}.tif", "w", count=bands, dtype="uint8",
                           **profile) as dst:
            dst.write(rng.integers(0, 2 if bands == 1 else 255, (bands, 32, 32), "uint8"))
    return folder / "images", folder / "masks"


def test_a_users_udm_named_image_beside_its_namesake_is_predicted(tmp_path, run_cli):
    """A user's roads_udm.tif beside roads.tif (no Planet scene id in the name: no date)
    was left out as roads.tif's usable-data mask: 1 output of 2 images, exit 0."""
    images, _ = _rgb_and_mask(tmp_path, "roads")
    _rgb_and_mask(tmp_path, "roads_udm")
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, images, "-o", f"{tmp_path}/out/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == [
        "roads.tif", "roads_udm.tif"]


def test_a_users_udm_named_class_raster_alone_is_vectorized(tmp_path, run_cli):
    """A folder of predictions holding site_udm.tif (1 uint8 band, as a udm) was refused as
    a Planet usable-data mask whose image (site_*) is missing; vectorize reads it."""
    _, masks = _rgb_and_mask(tmp_path, "site_udm")
    with rasterio.open(masks / "site_udm.tif") as src:
        pixels = int(src.read(1).sum())
    result = run_cli("vectorize", masks, "-o", tmp_path / "site.gpkg")
    assert result.exit_code == 0, result.output
    import geopandas as gpd

    found = gpd.read_file(tmp_path / "site.gpkg")
    assert set(found["source"]) == {"site_udm.tif"}
    assert found.area.sum() == pytest.approx(pixels)
