"""GDAL virtual and remote paths (/vsizip/, /vsicurl/http://...) reach GDAL unchanged.

A local HTTP server stands in for the cloud: `/vsicurl/http://127.0.0.1:PORT/x.tif` and
`http://127.0.0.1:PORT/x.tif` must be read as the user wrote them (a pathlib.Path would
collapse "//" and break them).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from tests.conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster
from tests.onnx_models import pointwise_model, pointwise_reference


@pytest.fixture
def served(tmp_path):
    """Serve tmp_path/www over HTTP with range requests, from another process (rasterio
    holds the GIL while GDAL waits for the network); yield (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = subprocess.Popen([sys.executable, "-m", "tests.http_range_server", str(folder)],
                              stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[1])
    try:
        port = int(server.stdout.readline())
        yield folder, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _stalled_requests(folder) -> int:
    """How many requests the server's /hang/ paths took (and never answered)."""
    log = folder / ".hang-requests"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _scene(folder):
    image = np.zeros((3, 64, 64), np.uint8)
    image[:, 16:48, 16:48] = 200
    write_raster(folder / "scene.tif", image)
    x0, y0 = UTM_ORIGIN
    footprints = gpd.GeoDataFrame(
        {"class": ["building"]}, geometry=[box(x0 + 8, y0 - 24, x0 + 24, y0 - 8)], crs=UTM_CRS
    )
    footprints.to_file(folder / "footprints.geojson")
    return folder / "scene.tif", folder / "footprints.geojson"


@pytest.mark.parametrize("prefix", ["/vsicurl/", ""])
def test_predict_reads_a_remote_image(served, tmp_path, run_cli, prefix):
    folder, base = served
    image, _ = _scene(folder)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    out = tmp_path / "p.tif"
    result = run_cli("predict", model, f"{prefix}{base}/scene.tif", "-o", out,
                     "--dtype", "float32")
    assert result.exit_code == 0, result.output
    with rasterio.open(image) as src, rasterio.open(out) as dst:
        assert dst.transform == src.transform and dst.crs == src.crs
        expected = pointwise_reference(src.read()[None].astype(np.float32) / 255,
                                       activation="sigmoid")[0]
        np.testing.assert_allclose(dst.read(), expected, atol=1e-5)


def _zipped(path, archive, name: str):
    """``archive``, a zip holding ``path`` as ``name``."""
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(path, name)
    return archive


def test_make_masks_reads_zipped_image_and_remote_labels(served, tmp_path, run_cli):
    folder, base = served
    image, _ = _scene(folder)
    archive = _zipped(image, tmp_path / "scene.zip", "scene.tif")
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", f"/vsicurl/{base}/footprints.geojson",
                     f"/vsizip/{archive}/scene.tif", "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        mask = dst.read(1)
    assert mask[16:48, 16:48].all() and mask.sum() == 32 * 32


def test_missing_remote_file_is_one_line(served, tmp_path, run_cli):
    _, base = served
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, f"/vsicurl/{base}/absent.tif", "-o", tmp_path / "p.tif")
    assert result.exit_code == 1
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and f"{base}/absent.tif" in message
    assert not (tmp_path / "p.tif").exists()


@pytest.mark.parametrize("output", ["s3://bucket/m.tif", "/vsis3/bucket/m.tif",
                                    "https://example.com/m.tif"])
def test_remote_outputs_are_refused_in_one_line(tmp_path, run_cli, output, monkeypatch):
    image, labels = _scene(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run_cli("make-masks", labels, image, "-o", output)
    assert result.exit_code == 2  # bad usage, refused before any work
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and output in lines[0] and "local" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["footprints.geojson", "scene.tif"]


def test_a_presigned_url_query_stays_out_of_vector_outputs(served, tmp_path, run_cli):
    # the query (signature, key id) was every feature's source and the CSV's ImageId
    folder, base = served
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 1
    write_raster(folder / "t_0_0.tif", mask)
    url = f"/vsicurl/{base}/t_0_0.tif?X-Amz-Signature=SECRET&X-Amz-Credential=AKIA"
    for name in ("c.csv", "c.geojson"):
        result = run_cli("vectorize", url, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert "SECRET" not in (tmp_path / name).read_text() + result.output
    import pandas as pd

    assert set(pd.read_csv(tmp_path / "c.csv")["ImageId"]) == {"t_0_0"}
    assert list(gpd.read_file(tmp_path / "c.geojson")["source"]) == ["t_0_0.tif"]


def test_a_presigned_url_query_stays_out_of_warnings(served, tmp_path, run_cli):
    folder, base = served
    write_raster(folder / "t.tif", np.zeros((3, 16, 16), np.uint8))
    x0, y0 = UTM_ORIGIN
    far = gpd.GeoDataFrame(geometry=[box(x0 - 900, y0 - 900, x0 - 800, y0 - 800)], crs=UTM_CRS)
    far.to_file(tmp_path / "far.geojson")
    result = run_cli("make-masks", tmp_path / "far.geojson",
                     f"/vsicurl/{base}/t.tif?X-Amz-Signature=SECRET", "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "no feature overlaps t.tif " in result.stderr and "SECRET" not in result.stderr


def test_tile_labels_of_a_zipped_or_signed_remote_image(served, tmp_path, run_cli):
    # Path() made /vsizip//tmp/... /vsizip/tmp/...: "not a raster GDAL can read"
    folder, base = served
    image, labels = _scene(folder)
    archive = _zipped(image, tmp_path / "scene.zip", "scene/scene.tif")
    for given, out in ((f"/vsizip/{archive}/scene/scene.tif", "zt"),
                       (f"/vsicurl/{base}/scene.tif?X-Amz-Signature=SECRET", "ct")):
        result = run_cli("tile", given, "--labels", labels, "--size", "32",
                         "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
        index = (tmp_path / out / "index.csv").read_text()
        assert "SECRET" not in index
        rows = index.splitlines()[1:]
        assert len(rows) == 4 and all(",scene.tif," in row for row in rows)
        written = sorted(p.name for p in (tmp_path / out / "labels").iterdir())
        assert len(written) == 4 and all(n.startswith("scene_") for n in written), written


@pytest.mark.parametrize("option,name", [("--report", "r.html"), ("--report", "r.png"),
                                         ("--errors", "e.gpkg")])
@pytest.mark.parametrize("prefix", ["/vsimem/", "/vsizip/{tmp}/rep.zip/"])
def test_evaluate_outputs_on_virtual_paths_are_refused(tmp_path, run_cli, option, name,
                                                       prefix):
    # --report made real folders /vsimem/ and /vsizip/tmp/... at the root and wrote there
    import shutil
    import uuid

    _, labels = _scene(tmp_path)
    output = prefix.format(tmp=tmp_path) + f"{uuid.uuid4().hex}-{name}"
    try:
        result = run_cli("evaluate", labels, labels, option, output)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and output in lines[0] and "local" in lines[0], lines
        assert not Path(output).exists()
    finally:  # what a failing run wrote outside tmp_path (folders at the root)
        Path(output).unlink(missing_ok=True)
        for folder in Path(output).parents[:-1]:
            with contextlib.suppress(OSError):
                folder.rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["footprints.geojson", "scene.tif"]
    shutil.rmtree(tmp_path)  # nothing else there to keep


@pytest.mark.parametrize("where", ["/vsicurl/{base}/m.onnx", "{base}/m.onnx",
                                   "/vsizip/{tmp}/models.zip/m.onnx", "s3://bucket/m.onnx"])
def test_a_remote_or_virtual_model_is_refused_naming_it_as_given(served, tmp_path, run_cli,
                                                                  where):
    # said "/vsicurl/http:/127.0.0.1:.../m.onnx: no such model file" of a URL that exists
    folder, base = served
    image, _ = _scene(folder)
    pointwise_model(folder / "m.onnx", activation="sigmoid")
    with zipfile.ZipFile(tmp_path / "models.zip", "w") as zf:
        zf.write(folder / "m.onnx", "m.onnx")
    model = where.format(base=base, tmp=tmp_path)
    out = tmp_path / "p.tif"
    for extra in ((), ("--workers", "2")):
        result = run_cli("predict", model, image, "-o", out, *extra)
        assert_one_line_error(result, model, "must be a local file", "download it")
        assert not out.exists()


def test_a_gzipped_raster_is_named_without_its_gz(tmp_path, run_cli):
    # /vsigzip/scene.tif.gz made out/scene.tif.tif and patches scene.tif_0_0.tif
    import gzip
    import shutil

    image, labels = _scene(tmp_path)
    with open(image, "rb") as src, gzip.open(tmp_path / "scene.tif.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    given = f"/vsigzip/{tmp_path}/scene.tif.gz"
    result = run_cli("make-masks", labels, given, "-o", f"{tmp_path}/masks/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "masks").glob("*.tif")) == ["scene.tif"]
    result = run_cli("tile", given, "--size", "32", "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "t/images").iterdir())[0] == "scene_0_0.tif"
    with rasterio.open(image) as src, rasterio.open(tmp_path / "masks/scene.tif") as dst:
        assert dst.transform == src.transform


@pytest.mark.parametrize("form", ["/vsizip/{archive}/d/scene.tif", "zip://{archive}!d/scene.tif"])
def test_resume_redoes_an_image_whose_archive_changed(tmp_path, run_cli, form):
    # a re-downloaded archive with new pixels was "complete from an earlier run, skipped"
    import os

    image, _ = _scene(tmp_path)
    archive = _zipped(image, tmp_path / "scene.zip", "d/scene.tif")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    given, out = form.format(archive=archive), tmp_path / "p.tif"
    args = ("predict", model, given, "-o", out, "--dtype", "float32", "--resume")
    assert run_cli(*args).exit_code == 0
    write_raster(image, np.full((3, 64, 64), 90, np.uint8))
    _zipped(image, archive, "d/scene.tif")
    os.utime(archive, ns=(1, 1))
    result = run_cli(*args)
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(out) as dst:
        expected = pointwise_reference(np.full((1, 3, 1, 1), 90 / 255, np.float32),
                                       activation="sigmoid")[0, :, 0, 0]
        np.testing.assert_allclose(dst.read()[:, 5, 5], expected, atol=1e-5)


@pytest.mark.parametrize("inside", ["top", "top/", "top/*.tif"])
def test_a_folder_or_pattern_inside_an_archive_is_its_rasters(tmp_path, run_cli, inside):
    # "/vsizip/tiles.zip/top: not a raster GDAL can read"; the pattern too
    image, labels = _scene(tmp_path)
    with zipfile.ZipFile(tmp_path / "tiles.zip", "w") as zf:
        zf.write(image, "top/my scene.tif")
        zf.write(image, "top/b.tif")
        zf.write(labels, "top/footprints.geojson")
        zf.write(image, "top/deeper/c.tif")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, f"/vsizip/{tmp_path}/tiles.zip/{inside}",
                     "-o", f"{tmp_path}/out/", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == ["b.tif",
                                                                        "my scene.tif"]
    _assert_equal_to_the_extracted_run(run_cli, model, image, tmp_path, ["b.tif", "my scene.tif"])


def _assert_equal_to_the_extracted_run(run_cli, model, image, tmp_path, names):
    """tmp_path/out/<names>: the pixels and grid of predict on the extracted ``image``."""
    assert run_cli("predict", model, image, "-o", tmp_path / "local.tif",
                   "--dtype", "float32").exit_code == 0
    with rasterio.open(tmp_path / "local.tif") as local:
        for name in names:
            with rasterio.open(tmp_path / "out" / name) as dst:
                assert dst.transform == local.transform and dst.crs == local.crs
                np.testing.assert_array_equal(dst.read(), local.read())


def test_an_archive_folder_without_rasters_is_one_line(tmp_path, run_cli):
    _, labels = _scene(tmp_path)
    with zipfile.ZipFile(tmp_path / "v.zip", "w") as zf:
        zf.write(labels, "top/footprints.geojson")
    model = pointwise_model(tmp_path / "m.onnx")
    for inside in ("top", "top/*.tif"):
        given = f"/vsizip/{tmp_path}/v.zip/{inside}"
        result = run_cli("predict", model, given, "-o", f"{tmp_path}/out/")
        assert_one_line_error(result, given)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "pattern"])
def test_a_downloaded_archive_is_read_as_its_rasters(tmp_path, run_cli, kind):
    # tiles.zip (INRIA/Potsdam arrive so) was "not a raster GDAL can read"; 'dl/*.zip' too
    import tarfile

    image, _ = _scene(tmp_path)
    (tmp_path / "dl").mkdir()
    if kind == "tar.gz":
        archive = tmp_path / "dl/tiles.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(image, "a.tif")
            tf.add(image, "b.tif")
    else:
        archive = tmp_path / "dl/tiles.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.write(image, "a.tif")
            zf.write(image, "b.tif")
    given = f"{tmp_path}/dl/*.zip" if kind == "pattern" else archive
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    result = run_cli("predict", model, given, "-o", f"{tmp_path}/out/", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == ["a.tif", "b.tif"]
    _assert_equal_to_the_extracted_run(run_cli, model, image, tmp_path, ["a.tif", "b.tif"])


def test_an_archive_with_its_rasters_deeper_names_their_folder(tmp_path, run_cli):
    image, _ = _scene(tmp_path)
    with zipfile.ZipFile(tmp_path / "inria.zip", "w") as zf:
        zf.write(image, "AerialImageDataset/train/images/austin1.tif")
        zf.write(image, "AerialImageDataset/train/images/austin2.tif")
    result = run_cli("tile", tmp_path / "inria.zip", "-o", tmp_path / "t")
    assert_one_line_error(result, "inria.zip",
                          f"/vsizip/{tmp_path}/inria.zip/AerialImageDataset/train/images")
    assert not (tmp_path / "t").exists()


def test_a_folder_of_archives_names_them(tmp_path, run_cli):
    image, _ = _scene(tmp_path)
    (tmp_path / "dl").mkdir()
    with zipfile.ZipFile(tmp_path / "dl/tiles.zip", "w") as zf:
        zf.write(image, "a.tif")
    result = run_cli("tile", tmp_path / "dl", "-o", tmp_path / "t")
    assert_one_line_error(result, "holds no raster files", "tiles.zip")
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("given", ["masks.zip", "masks1.zip"])
def test_tile_masks_from_a_downloaded_archive(tmp_path, run_cli, given):
    # the images of tiles.zip were read in place, its masks.zip was 'not a raster GDAL can
    # read': a masks archive is read in place too, paired by name as a masks folder is
    image, _ = _scene(tmp_path)
    mask = write_raster(tmp_path / "mask.tif", (np.arange(64 * 64).reshape(64, 64) % 2
                                                ).astype(np.uint8))
    with zipfile.ZipFile(tmp_path / "tiles.zip", "w") as zf:
        zf.write(image, "a.tif")
        zf.write(image, "b.tif")
    with zipfile.ZipFile(tmp_path / "masks.zip", "w") as zf:
        zf.write(mask, "b.tif")
        zf.write(mask, "a.tif")
    with zipfile.ZipFile(tmp_path / "masks1.zip", "w") as zf:  # one member: GDAL opens it
        zf.write(mask, "a.tif")
    images = tmp_path / ("tiles.zip" if given == "masks.zip" else "scene.tif")
    result = run_cli("tile", images, "--masks", tmp_path / given, "--size", "32",
                     "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    masks = sorted((tmp_path / "t/masks").glob("*.tif"))
    assert len(masks) == (8 if given == "masks.zip" else 4)
    for path in masks:
        with rasterio.open(path) as src, rasterio.open(mask) as whole:
            np.testing.assert_array_equal(src.read(1), whole.read(
                1, window=rasterio.windows.from_bounds(*src.bounds, whole.transform)))


def test_instances_of_zipped_and_signed_remote_rasters(served, tmp_path, run_cli):
    """vectorize of a footprint/boundary/contact raster (instances, automatic) inside a zip
    said '/vsizip/tmp/...: not a raster GDAL can read' (a Path collapsed /vsizip//tmp), and
    a remote one's source would keep the URL's signature: read as given, named plainly."""
    from .test_instances import TRANSFORM, perfect_probabilities, terraced_scene

    folder, base = served
    bands = (perfect_probabilities(terraced_scene()) * 255).astype(np.uint8)
    write_raster(folder / "fbc.tif", bands, transform=TRANSFORM)
    with rasterio.open(folder / "fbc.tif", "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    with zipfile.ZipFile(tmp_path / "fbc.zip", "w") as archive:
        archive.write(folder / "fbc.tif", "fbc.tif")
    for given, out in ((f"/vsizip/{tmp_path}/fbc.zip/fbc.tif", "z.gpkg"),
                       (f"{base}/fbc.tif?X-Amz-Signature=SECRET", "u.gpkg")):
        result = run_cli("vectorize", given, "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
        assert "26 polygons" in result.stdout
        assert set(gpd.read_file(tmp_path / out)["source"]) == {"fbc.tif"}


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_a_relative_zip_url_reads_as_its_absolute_form(tmp_path, run_cli, monkeypatch, workers):
    # rasterio turns zip://tiles.zip!d/scene.tif into /vsizip/tiles.zip!d/scene.tif, which
    # GDAL cannot open: every command said 'not a raster GDAL can read'
    image, labels = _scene(tmp_path)
    _zipped(image, tmp_path / "tiles.zip", "d/scene.tif")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    monkeypatch.chdir(tmp_path)
    given = "zip://tiles.zip!d/scene.tif"
    result = run_cli("predict", model, given, "-o", "p/", "--dtype", "float32", *workers)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p/scene.tif") as dst, rasterio.open(image) as src:
        assert dst.transform == src.transform and dst.shape == src.shape
    result = run_cli("make-masks", labels, given, "-o", "masks/", *workers)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks/scene.tif") as mask:
        assert mask.read(1).max() > 0
    assert run_cli("tile", given, "--size", "32", "-o", "t").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "t/images").iterdir())[0] == "scene_0_0.tif"
    result = run_cli("vectorize", "zip://tiles.zip!d/scene.tif", "-o", "v.gpkg")
    assert result.exit_code == 0 and "v.gpkg: 1 polygon" in result.output, result.output
    result = run_cli("evaluate", given, image)
    assert result.exit_code == 0 and "accuracy 1.0000" in result.output, result.output


@pytest.mark.parametrize(("where", "says"), [
    ("status/404", "not found on the server (HTTP 404)"),
    ("status/403", "AWS_NO_SIGN_REQUEST=YES"),
    ("status/500", "HTTP 500"),
    ("norange", "does not support range requests"),
])
@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_failing_server_is_named_not_called_a_bad_file(served, tmp_path, run_cli, where,
                                                        says, command):
    folder, base = served
    image, labels = _scene(folder)
    if where == "norange":  # GDAL takes a small file's whole body: a larger one
        image = write_raster(folder / "large.tif", np.random.default_rng(0).integers(
            0, 255, (3, 512, 512), dtype=np.uint8))
    url = f"{base}/{where}/{image.name if command == 'predict' else labels.name}"
    model = pointwise_model(tmp_path / "m.onnx")
    args = (model, url) if command == "predict" else (url, image)
    result = run_cli(command, *args, "-o", tmp_path / "o.tif")
    if command == "make-masks" and where == "norange":  # vectors are read whole: fine
        assert result.exit_code == 0, result.output
        return
    assert_one_line_error(result, url, says)
    assert "GDAL can read" not in result.output and not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("url", ["s3://spacenet-dataset/AOI_2/scene.tif",
                                 "/vsis3/spacenet-dataset/AOI_2/scene.tif"])
def test_s3_without_credentials_says_how_to_sign_or_not(tmp_path, run_cli, url, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_NO_SIGN_REQUEST",
                "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/credentials
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"), url,
                     "-o", tmp_path / "o.tif")
    assert_one_line_error(result, url, "AWS_NO_SIGN_REQUEST=YES", "AWS_ACCESS_KEY_ID")
    assert "GDAL can read" not in result.output


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_server_that_never_answers_fails_instead_of_hanging(served, tmp_path, run_cli,
                                                               command, monkeypatch):
    import os

    from geotile import gdal_settings

    folder, base = served
    image, labels = _scene(folder)
    monkeypatch.setattr(gdal_settings, "HTTP_STALL_S", 1)  # geotile's default: 15 s
    for key in [k for k in os.environ if k.startswith("GDAL_HTTP")]:
        monkeypatch.delenv(key)
    model = pointwise_model(tmp_path / "m.onnx")
    url = f"{base}/hang/{image.name if command == 'predict' else labels.name}"
    args = (model, url) if command == "predict" else (url, image)
    result = run_cli(command, *args, "-o", tmp_path / "o.tif")
    # ended by curl's low-speed limit at geotile's stall time (1 s here), not the clock's
    assert_one_line_error(result, url, "Operation too slow", "the last 1 seconds",
                          "GDAL_HTTP_TIMEOUT")
    assert not (tmp_path / "o.tif").exists() and "GDAL_HTTP_LOW_SPEED_TIME" not in os.environ
    import pyogrio
    from rasterio.env import get_gdal_config

    assert get_gdal_config("GDAL_HTTP_LOW_SPEED_TIME") is None  # nothing stays set
    assert pyogrio.get_gdal_config_option("GDAL_HTTP_LOW_SPEED_TIME") is None


@pytest.mark.parametrize("given", ["{base}/tiles/*.tif", "/vsicurl/{base}/tiles/",
                                   "s3://bucket/tiles/*.tif?x-id=GetObject"])
@pytest.mark.parametrize("command", ["predict", "make-masks", "tile"])
def test_a_remote_folder_or_pattern_says_it_cannot_be_listed(served, tmp_path, run_cli,
                                                             given, command):
    folder, base = served
    _, labels = _scene(folder)
    url = given.format(base=base)
    args = {"predict": (pointwise_model(tmp_path / "m.onnx"), url), "tile": (url,),
            "make-masks": (labels, url)}[command]
    result = run_cli(command, *args, "-o", tmp_path / "out")
    assert_one_line_error(result, url, "cannot be listed", "give each file's URL")
    assert not (tmp_path / "out").exists()


def test_a_signed_url_query_is_no_pattern(served, tmp_path, run_cli):
    folder, base = served
    image, _ = _scene(folder)
    out = tmp_path / "p.tif"
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"),
                     f"{base}/{image.name}?sig=a*b[1]", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.parametrize("remote", ["{base}/preds/", "s3://bucket/preds/*.geojson"])
def test_evaluate_a_remote_folder_says_it_cannot_be_listed(served, tmp_path, run_cli, remote):
    folder, base = served
    _scene(folder)
    url = remote.format(base=base)
    result = run_cli("evaluate", url, folder)
    assert_one_line_error(result, url, "cannot be listed")


def test_a_remote_file_named_with_brackets_is_read(served, tmp_path, run_cli):
    folder, base = served
    image, _ = _scene(folder)
    image.rename(folder / "scene[1].tif")
    out = tmp_path / "p.tif"
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx"),
                     f"{base}/scene[1].tif", "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(folder / "scene[1].tif") as src, rasterio.open(out) as dst:
        assert dst.transform == src.transform and dst.crs == src.crs


def test_an_ipv6_url_is_no_pattern():
    from geotile.input_files import expand_one

    assert [str(p) for p in expand_one("http://[::1]:8080/scene.tif")] == [
        "http://[::1]:8080/scene.tif"]


@pytest.mark.parametrize("folder", ["!projects", "run;2", "a!b;c"])
@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".fgb", ".geojson"])
def test_vector_files_in_folders_named_with_bang_or_semicolon(tmp_path, run_cli, folder,
                                                              suffix):
    """pyogrio reads a local path as a URL, cutting it at '!' (an archive) and at a ';' of
    its last part (pyogrio #632): vector files in a folder named so ('!projects', as
    Windows users sort folders first) are read and written as any other."""
    work = tmp_path / folder
    work.mkdir()
    image = write_raster(work / "img;1.tif", np.zeros((3, 64, 64), np.uint8))
    x, y = UTM_ORIGIN
    houses = gpd.GeoDataFrame({"class": ["building"] * 2},
                              geometry=[box(x + 2, y - 12, x + 10, y - 2),
                                        box(x + 16, y - 30, x + 28, y - 20)], crs=UTM_CRS)
    plain = tmp_path / "plain"
    plain.mkdir()
    houses.to_file(plain / f"labels{suffix}")  # pyogrio cannot write there (what is tested)
    for part in plain.iterdir():
        part.rename(work / f"labels;v2{part.suffix}")
    labels = work / f"labels;v2{suffix}"
    masks = run_cli("make-masks", labels, image, "-o", work / "mask.tif")
    assert masks.exit_code == 0, masks.output
    with rasterio.open(work / "mask.tif") as src:
        assert int(src.read(1).sum()) == (16 * 20) + (24 * 20)
    out = work / f"found;1{suffix}"
    vectorized = run_cli("vectorize", work / "mask.tif", "-o", out)
    assert vectorized.exit_code == 0, vectorized.output
    found = gpd.read_file(f"/vsisubfile/0_,{out}").to_crs(UTM_CRS)  # GeoJSON: in degrees
    assert len(found) == 2
    rounding = 0.5 if suffix == ".geojson" else 1e-6  # RFC 7946: degrees to ~1 cm
    assert found.union_all().symmetric_difference(houses.union_all()).area < rounding
    again = run_cli("vectorize", work / "mask.tif", "-o", out, "--overwrite")
    assert again.exit_code == 0, again.output
    scores = run_cli("evaluate", out, labels, "--json")
    assert scores.exit_code == 0, scores.output
    assert json.loads(scores.stdout)["f1"] == 1.0
    errors = run_cli("evaluate", out, labels, "--errors", work / "errors;1.gpkg")
    assert errors.exit_code == 0, errors.output
    kinds = gpd.read_file(f"/vsisubfile/0_,{work / 'errors;1.gpkg'}")["kind"]
    assert sorted(kinds) == ["TP", "TP"]


@pytest.mark.parametrize("prefix", ["file:", "s3:", "zip:", "GPKG:"])
def test_relative_names_that_read_as_a_url_or_a_driver_prefix_are_local_files(
        tmp_path, run_cli, monkeypatch, prefix):
    """rasterio and pyogrio read a relative 'file:scene.tif' as scene.tif (a decoy beside
    it was masked: 1 mask pixel where 256 belong), 's3:scene.tif' as an S3 object ('AWS_...
    not defined') and GDAL 'GPKG:x.gpkg' as a connection string: geotile takes paths
    without '://' as local files, so these are read and written as the files named."""
    monkeypatch.chdir(tmp_path)
    scene, footprints = _scene(tmp_path)
    decoy = np.zeros((3, 64, 64), np.uint8)
    write_raster(tmp_path / "decoy.tif", decoy,
                 transform=rasterio.transform.from_origin(UTM_ORIGIN[0] + 12, UTM_ORIGIN[1] - 12,
                                                          0.5, 0.5))
    image, labels = f"{prefix}scene.tif", f"{prefix}footprints.geojson"
    scene.rename(image)
    footprints.rename(labels)
    (tmp_path / "decoy.tif").rename("scene.tif")
    (tmp_path / "footprints.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    masks = run_cli("make-masks", labels, image, "-o", f"{prefix}mask.tif")
    assert masks.exit_code == 0, masks.output
    with rasterio.open(tmp_path / f"{prefix}mask.tif") as src:
        assert src.transform.c == UTM_ORIGIN[0]
        assert int(src.read(1).sum()) == 32 * 32
    vectors = run_cli("vectorize", f"{prefix}mask.tif", "-o", f"{prefix}found.gpkg")
    assert vectors.exit_code == 0, vectors.output
    scores = run_cli("evaluate", f"{prefix}found.gpkg", labels, "--json",
                     "--errors", f"{prefix}errors.gpkg")
    assert scores.exit_code == 0, scores.output
    assert json.loads(scores.stdout)["tp"] == 1
    assert (tmp_path / f"{prefix}errors.gpkg").is_file()
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    folder = run_cli("predict", model, image, "-o", f"{prefix}pred/")
    assert folder.exit_code == 0, folder.output
    with rasterio.open(tmp_path / image) as src:
        expected = pointwise_reference(src.read()[None].astype(np.float32) / 255,
                                       activation="sigmoid")[0]
    with rasterio.open(tmp_path / f"{prefix}pred" / image) as out:
        assert out.transform.c == UTM_ORIGIN[0]
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)
    patches = run_cli("tile", image, "--masks", f"{prefix}mask.tif", "--size", "32",
                      "-o", f"{prefix}patches")
    assert patches.exit_code == 0, patches.output
    with rasterio.open(tmp_path / f"{prefix}patches" / "masks" / f"{prefix}scene_0_0.tif") as p:
        assert int(p.read(1).sum()) == 16 * 16


def test_a_zipped_shapefile_and_an_edited_geopackage_in_a_bang_folder(tmp_path):
    """In a '!' folder, a zipped Shapefile (labels.zip) is still read as the zip it is, and
    a GeoPackage being edited (QGIS: its last edits in the -wal beside it) is read with
    those edits, as in any other folder."""
    import shutil
    import sqlite3

    from geotile.labels import read_labels

    x, y = UTM_ORIGIN
    houses = gpd.GeoDataFrame({"class": ["building"] * 2},
                              geometry=[box(x + 2, y - 12, x + 10, y - 2),
                                        box(x + 16, y - 30, x + 28, y - 20)], crs=UTM_CRS)
    plain, work = tmp_path / "plain", tmp_path / "!projects"
    plain.mkdir()
    work.mkdir()
    houses.to_file(plain / "labels.shp")
    with zipfile.ZipFile(work / "labels.zip", "w") as archive:
        for part in plain.iterdir():
            archive.write(part, part.name)
    assert len(read_labels(work / "labels.zip").geometries) == 2
    houses.to_file(plain / "edited.gpkg", layer="edited")
    edits = sqlite3.connect(plain / "edited.gpkg")
    try:
        edits.execute("PRAGMA journal_mode=WAL")
        edits.execute("PRAGMA wal_autocheckpoint=0")
        edits.execute("DELETE FROM edited WHERE fid = 1")
        edits.commit()
        for name in ("edited.gpkg", "edited.gpkg-wal", "edited.gpkg-shm"):
            shutil.copy(plain / name, work / name)
    finally:
        edits.close()
    assert (work / "edited.gpkg-wal").stat().st_size > 0
    assert len(read_labels(work / "edited.gpkg").geometries) == 1


_READ_HANGING = """
import sys, time
from geotile import gdal_settings
from geotile.errors import InputError
from geotile.labels import read_labels
gdal_settings.HTTP_STALL_S = 1  # geotile's default: 15 s
start = time.monotonic()
try:
    read_labels(sys.argv[1])
except InputError as exc:
    print(round(time.monotonic() - start, 1), exc)
"""


@pytest.mark.parametrize("user", [{}, {"GDAL_HTTP_TIMEOUT": "1"}])
def test_read_labels_of_a_server_that_never_answers_fails_in_seconds(served, user):
    """The library's read_labels (no command around it) read a remote file with no time
    limit in pyogrio's GDAL: a server that accepts and never answers hung it for ever."""
    import os

    folder, base = served
    _scene(folder)
    url = f"{base}/hang/footprints.geojson"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}, **user}
    done = subprocess.run([sys.executable, "-c", _READ_HANGING, url], env=env, text=True,
                          capture_output=True, timeout=20, cwd=Path(__file__).parents[1])
    message = done.stdout.strip().split(" ", 1)[1]
    # each stalled request waits a second (timeout=20 above: not for ever); GDAL's open
    # asks at most three times
    assert 1 <= _stalled_requests(folder) <= 3, done.stdout
    assert message.startswith(f"{url}: could not be downloaded"), message
    assert "download it first" in message and "GDAL_HTTP_TIMEOUT" in message
    said = "timed out after 1" if user else "the last 1 seconds"  # the user's limit wins
    assert said in message and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["make-masks", "evaluate"])
def test_labels_whose_download_is_cut_short_say_so_not_a_format(served, tmp_path, run_cli,
                                                                 command):
    """GDAL reads what a dropped connection delivered as the whole file: a GeoJSON cut
    half-way was refused as 'not vector data GDAL can read (Unterminated string)'."""
    folder, base = served
    image, labels = _scene(folder)
    url = f"{base}/cut/{labels.name}"
    args = (url, image, "-o", tmp_path / "o.tif") if command == "make-masks" else (
        image, url)
    result = run_cli(command, *args)
    assert_one_line_error(result, url, "cut short", "try again", "download it first")
    assert "GDAL can read" not in result.output and not (tmp_path / "o.tif").exists()


_READ_IN_ENV = """
import sys, time
import rasterio
from geotile import gdal_settings
from geotile.errors import InputError
from geotile.labels import read_labels
gdal_settings.HTTP_STALL_S = 60  # geotile's own limits, longer than the test waits
start = time.monotonic()
with rasterio.Env(GDAL_HTTP_LOW_SPEED_TIME=1, GDAL_HTTP_LOW_SPEED_LIMIT=1):
    try:
        read_labels(sys.argv[1])
    except InputError as exc:
        print(round(time.monotonic() - start, 1), exc)
"""


def test_http_limits_of_the_users_rasterio_env_reach_the_labels_read(served):
    """A user's GDAL_HTTP_* of a rasterio.Env, which pyogrio's GDAL does not see, kept
    geotile's own out of it and put none in: the remote labels read hung for ever."""
    import os

    folder, base = served
    _scene(folder)
    url = f"{base}/hang/footprints.geojson"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}
    done = subprocess.run([sys.executable, "-c", _READ_IN_ENV, url], env=env, text=True,
                          capture_output=True, timeout=20, cwd=Path(__file__).parents[1])
    message = done.stdout.strip().split(" ", 1)[1]
    assert 1 <= _stalled_requests(folder) <= 3 and "the last 1 seconds" in message, \
        done.stdout
    assert message.startswith(f"{url}: could not be downloaded"), message


def test_evaluate_against_a_server_that_never_answers_waits_once(served, tmp_path,
                                                                 run_cli, monkeypatch):
    """evaluate's probes of TRUTH (its layers, whether it holds lines) took a stalled
    server's failure for 'not that kind of file' and asked again: 9 waits, not 3."""
    import os

    folder, base = served
    image, labels = _scene(folder)
    for key in [k for k in os.environ if k.startswith("GDAL_HTTP")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "1")
    url = f"{base}/hang/{labels.name}"
    result = run_cli("evaluate", image, url)
    assert_one_line_error(result, url, "could not be downloaded", "timed out after 1",
                          "download it first")
    # one open (GDAL asks up to three times) and one probe's request: 9 before
    assert 1 <= _stalled_requests(folder) <= 4
