"""Images without georeferencing (plain JPEG/PNG, as in the Kaggle Harvey set): tile,
predict and vectorize work in pixel coordinates with one warning; outputs carry no CRS."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine

from geotile.errors import GeotileWarning
from tests.conftest import assert_one_line_error
from tests.onnx_models import pointwise_model, pointwise_reference

HEIGHT, WIDTH = 300, 400


def _plain(path, array, driver):
    """A plain image file (no CRS, no geotransform), as a camera or a dataset ships it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "no geotransform" on writing
        with rasterio.open(path, "w", driver=driver, width=array.shape[2],
                           height=array.shape[1], count=array.shape[0],
                           dtype=array.dtype.name) as dst:
            dst.write(array)
    return path


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as src:
            return src.read(), src.crs, src.transform


@pytest.fixture
def harvey(tmp_path):
    """A 300 x 400 RGB JPEG and its PNG index mask (classes 0-3)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    smooth = np.stack([(xx * 0.6) % 256, (yy * 0.8) % 256, ((xx + yy) * 0.3) % 256])
    image = (smooth + rng.integers(0, 20, smooth.shape)).clip(0, 255).astype(np.uint8)
    mask = rng.integers(0, 4, (1, HEIGHT, WIDTH), dtype=np.uint8)
    return (_plain(tmp_path / "scene.jpg", image, "JPEG"),
            _plain(tmp_path / "scene_mask.png", mask, "PNG"))


def _warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


def test_tile_jpeg_with_png_mask_in_pixel_coordinates(harvey, tmp_path, run_cli):
    image, mask = harvey
    result = run_cli("tile", image, "--masks", mask, "--size", 128, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "scene.jpg" in lines[0] and "no georeferencing" in lines[0]
    assert "pixel coordinates" in lines[0]
    pixels, _, _ = _read(image)  # the decoded JPEG: patches hold exactly these values
    labels, _, _ = _read(mask)
    with (tmp_path / "out" / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12  # 3 x 4 patches of 128 px, edges shifted inside
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        window = (slice(None), slice(y, y + 128), slice(x, x + 128))
        patch, crs, transform = _read(tmp_path / "out" / row["image"])
        assert crs is None
        assert transform == Affine.translation(x, y)  # pixel coordinates, y down
        np.testing.assert_array_equal(patch, pixels[window])
        patch_mask, _, _ = _read(tmp_path / "out" / row["mask"])
        np.testing.assert_array_equal(patch_mask, labels[window])
        bounds = [float(row[k]) for k in ("minx", "miny", "maxx", "maxy")]
        assert bounds == [x, y, x + 128, y + 128]


def test_tile_library_warns_once_and_hides_rasterio(harvey, tmp_path):
    from geotile.tiling import TileOptions, tile_rasters

    image, mask = harvey
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tile_rasters(image, mask, tmp_path / "out", options=TileOptions(size=128, fmt="png"))
    shown = [w for w in caught if issubclass(w.category, UserWarning)]  # not affine's
    assert [w.category for w in shown] == [GeotileWarning], [str(w.message) for w in shown]


def test_predict_jpeg_equals_reference_without_crs(harvey, tmp_path, run_cli):
    image, _ = harvey
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    out = tmp_path / "prob.tif"
    result = run_cli("predict", model, image, "-o", out, "--tile-size", 128, "--overlap", 32)
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "scene.jpg" in lines[0] and "no georeferencing" in lines[0]
    pixels, _, _ = _read(image)
    probabilities, crs, transform = _read(out)
    assert crs is None and transform.is_identity
    assert probabilities.shape == (1, HEIGHT, WIDTH)
    expected = pointwise_reference(pixels[np.newaxis].astype(np.float32) / 255)[0]
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_a_phone_photos_exif_rotation_is_warned(tmp_path, run_cli):
    """EXIF orientation 6 (a portrait phone photo): viewers show it turned, geotile keeps
    the stored pixels; a warning says so and how to rotate them."""
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(8).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif.tobytes())
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, tmp_path / "photo.jpg", "-o", tmp_path / "p.tif",
                     "--tile-size", "32")
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert any("photo.jpg" in line and "EXIF orientation (6)" in line and "auto-orient" in line
               for line in lines), result.stderr
    assert _read(tmp_path / "p.tif")[0].shape == (1, 40, 30)  # the stored pixels' grid


def test_predict_library_warns_once(harvey, tmp_path):
    from geotile.predict import predict_raster

    image, _ = harvey
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict_raster(model, image, tmp_path / "p.tif")
    shown = [w for w in caught if issubclass(w.category, UserWarning)]  # not affine's
    assert [w.category for w in shown] == [GeotileWarning], [str(w.message) for w in shown]


def test_vectorize_prediction_in_pixel_coordinates(harvey, tmp_path, run_cli):
    import geopandas as gpd

    image, _ = harvey
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    prob = tmp_path / "prob.tif"
    assert run_cli("predict", model, image, "-o", prob).exit_code == 0
    out = tmp_path / "polygons.gpkg"
    result = run_cli("vectorize", prob, "-o", out)
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert len(lines) == 1 and "no CRS" in lines[0], result.stderr
    frame = gpd.read_file(out)
    assert frame.crs is None and len(frame) > 0
    minx, miny, maxx, maxy = frame.total_bounds
    assert minx >= 0 and miny >= 0 and maxx <= WIDTH and maxy <= HEIGHT


def test_make_masks_georeferenced_labels_on_plain_image_is_one_line(harvey, tmp_path,
                                                                     run_cli):
    image, _ = harvey
    labels = tmp_path / "labels.geojson"  # GeoJSON: longitude/latitude (RFC 7946)
    labels.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      '"properties": {}, "geometry": {"type": "Polygon", "coordinates": '
                      '[[[10, 10], [50, 10], [50, 50], [10, 50], [10, 10]]]}}]}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "scene.jpg", "no CRS", "cannot be placed")
    assert not (tmp_path / "mask.tif").exists()


def test_make_masks_labels_without_crs_in_pixel_coordinates(harvey, tmp_path, run_cli):
    import geopandas as gpd
    from shapely.geometry import box

    image, _ = harvey
    labels = tmp_path / "labels.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio: "'crs' was not provided"
        gpd.GeoDataFrame(geometry=[box(10, 20, 50, 60)], crs=None).to_file(labels)
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Dataset has no geotransform" not in result.stderr
    mask, crs, _ = _read(out)
    expected = np.zeros((HEIGHT, WIDTH), np.uint8)
    expected[20:60, 10:50] = 1  # x 10-50, y 20-60 in pixels (y down)
    assert crs is None
    np.testing.assert_array_equal(mask[0], expected)


def _sensor_image(path, kind):
    """A Level-1-like image placed by 4 GCPs (EPSG:4326) or by RPCs, with no geotransform."""
    from rasterio.control import GroundControlPoint
    from rasterio.rpc import RPC

    pixels = np.random.default_rng(9).integers(0, 255, (3, 48, 64), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=64, height=48, count=3,
                           dtype="uint8") as dst:
            dst.write(pixels)
            if kind == "gcps":
                dst.gcps = ([GroundControlPoint(row=r, col=c, x=10 + c / 1e4, y=50 - r / 1e4)
                             for r, c in ((0, 0), (0, 64), (48, 0), (48, 64))], "EPSG:4326")
            else:
                dst.rpcs = RPC(height_off=0, height_scale=500, lat_off=50, lat_scale=0.01,
                               line_den_coeff=[1] + [0] * 19, line_num_coeff=[0, 0, 1] + [0] * 17,
                               line_off=24, line_scale=24, long_off=10, long_scale=0.01,
                               samp_den_coeff=[1] + [0] * 19, samp_num_coeff=[0, 1] + [0] * 18,
                               samp_off=32, samp_scale=32)
    return path


@pytest.mark.parametrize("kind", ["gcps", "rpcs"])
def test_gcp_and_rpc_georeferencing_is_kept(tmp_path, run_cli, kind):
    """Level-1 products placed by GCPs or RPCs: predictions keep them on the same pixels,
    patches keep them moved by their offset, masks of map labels are refused in one line."""
    image = _sensor_image(tmp_path / "l1.tif", kind)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert f"georeferenced by {kind.upper()[:-1]}s only" in result.stderr
    result = run_cli("tile", image, "--size", "32", "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    with rasterio.open(image) as src, rasterio.open(tmp_path / "p.tif") as out, \
            rasterio.open(tmp_path / "t" / "images" / "l1_1_1.tif") as patch:
        if kind == "gcps":
            assert out.gcps[1] == src.gcps[1] and [(g.row, g.col, g.x, g.y) for g in
                                                   out.gcps[0]] == [(g.row, g.col, g.x, g.y)
                                                                    for g in src.gcps[0]]
            first = patch.gcps[0][0]
            assert (first.row, first.col, first.x) == (-16, -32, 10.0)
        else:
            assert out.rpcs.to_dict() == src.rpcs.to_dict()
            assert (patch.rpcs.line_off, patch.rpcs.samp_off) == (24 - 16, 32 - 32)
    # creation options too (GCPs with a transform set made GDAL warn: --co was refused)
    result = run_cli("tile", image, "--size", "32", "--co", "COMPRESS=DEFLATE", "-o",
                     tmp_path / "tc")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "tc" / "images" / "l1_1_1.tif") as patch:
        assert patch.compression.name == "deflate"
        if kind == "gcps":
            first = patch.gcps[0][0]
            assert (first.row, first.col, first.x) == (-16, -32, 10.0)
        else:
            assert (patch.rpcs.line_off, patch.rpcs.samp_off) == (24 - 16, 32 - 32)
    labels = tmp_path / "l.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      '"properties": {}, "geometry": {"type": "Point", "coordinates": [10, 50]}}]}')
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif"),
                          "l1.tif", "not orthorectified", "gdalwarp")


def test_pixel_is_point_rasters_keep_the_convention(tmp_path, run_cli, make_raster):
    image = make_raster("pt.tif", np.zeros((3, 40, 40), np.uint8))
    with rasterio.open(image, "r+") as dst:
        dst.update_tags(AREA_OR_POINT="Point")
    with rasterio.open(image) as src:
        expected = src.transform
    model = pointwise_model(tmp_path / "m.onnx")
    assert run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size",
                   "32").exit_code == 0
    with rasterio.open(tmp_path / "p.tif") as out:
        assert out.tags().get("AREA_OR_POINT") == "Point"
        assert out.transform == expected
    assert run_cli("tile", image, "--size", "32", "-o", tmp_path / "t").exit_code == 0
    with rasterio.open(tmp_path / "t" / "images" / "pt_1_1.tif") as patch:
        assert patch.tags().get("AREA_OR_POINT") == "Point"
        assert (patch.transform.c, patch.transform.f) == expected * (8, 8)


@pytest.mark.parametrize("given", ["option", "metadata"])
def test_model_resolution_on_degrees_is_applied_as_on_utm(tmp_path, run_cli, make_raster,
                                                          given):
    """An EPSG:4326 image of 0.15 m ground pixels (1.9e-6 x 1.35e-6 deg at 45 N: a degree of
    longitude is cos(45 deg) of one of latitude) under a 0.3 m model predicts as the same
    image in UTM: windows averaged 2x along both axes, the result back on the image's grid.
    It was left at 0.15 m (a checkerboard kept, std 0.5), with a warning, or with none when
    the resolution came from the model's metadata."""
    from pyproj import Geod
    from rasterio.transform import from_origin

    rows, cols = np.mgrid[0:180, 0:240]
    pixels = ((rows + cols) % 2 * 0.5 + rows * 0.002 + cols * 0.003).astype(np.float32)
    lon, lat = 3.0, 45.0
    geod = Geod(ellps="WGS84")
    east = geod.fwd(lon, lat, 90, 0.15)[0] - lon  # 12 m north of the centre: 2e-6 off
    north = geod.fwd(lon, lat, 0, 0.15)[1] - lat
    geo = make_raster("geo.tif", pixels[None], crs="EPSG:4326",
                      transform=from_origin(lon, lat, east, north))
    utm = make_raster("utm.tif", pixels[None], transform=from_origin(500_000, 5e6, 0.15, 0.15))
    metadata = {"resolution": "30"} if given == "metadata" else None
    model = pointwise_model(tmp_path / "m.onnx", channels=1, metadata=metadata)
    args = ["--model-resolution", "0.3"] if given == "option" else []
    outputs = []
    for image in (geo, utm):
        result = run_cli("predict", model, image, "-o", tmp_path / f"p_{image.name}",
                         "--activation", "none", "--scale", "1", "--tile-size", "64", *args)
        assert result.exit_code == 0, result.output
        assert not _warning_lines(result.stderr), result.stderr
        with rasterio.open(tmp_path / f"p_{image.name}") as out, rasterio.open(image) as src:
            assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)
            outputs.append(out.read(1))
    on_geo, on_utm = outputs
    averaged = (0.25 + rows * 0.002 + cols * 0.003)[None, None].astype(np.float32)
    expected = pointwise_reference(averaged, channels=1, activation="none")[0, 0]
    inside = np.s_[2:-2, 2:-2]
    np.testing.assert_allclose(on_utm[inside], expected[inside], atol=1e-4)
    np.testing.assert_allclose(on_geo[inside], expected[inside], atol=1e-4)


@pytest.mark.parametrize("crs", [None, "EPSG:32633"])
@pytest.mark.parametrize("given", ["option", "metadata"])
def test_model_resolution_without_a_crs_is_warned(tmp_path, run_cli, given, crs):
    """No CRS (or one without a geotransform), no pixel size in metres: the model runs on the
    image's pixels, and the one no-georeferencing warning says so (also for the model's own
    resolution metadata, which the user may not know of), with a fix that gives a pixel size
    (a CRS alone does not; there was a second warning naming `gdal_edit`, which GDAL 3.6
    lacks). A CRS without a geotransform was resampled from its identity's 1 m 'pixels'."""
    from rasterio.errors import NotGeoreferencedWarning

    from .conftest import write_without_transform

    image = write_without_transform(tmp_path / "plain.tif", np.full((3, 40, 40), 7, np.uint8),
                                    crs)
    metadata = {"resolution": "50"} if given == "metadata" else None
    args = ["--model-resolution", "0.5"] if given == "option" else []
    result = run_cli("predict", pointwise_model(tmp_path / "m.onnx", metadata=metadata),
                     image, "-o", tmp_path / "p.tif", "--tile-size", "32", *args)
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert len(lines) == 1 and "plain.tif" in lines[0], result.stderr
    assert "pixel coordinates" in lines[0] and "not applied" in lines[0]
    assert ("--model-resolution 0.5" if given == "option" else "50 cm/px") in lines[0]
    assert "gdal_translate -a_srs EPSG:xxxx -a_ullr" in lines[0]
    assert "--model-resolution native" in lines[0] and "gdal_edit " not in lines[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp_path / "p.tif") as src:
            assert (src.width, src.height) == (40, 40)
            np.testing.assert_allclose(src.read()[:, 1:-1, 1:-1],
                                       pointwise_reference(np.full((1, 3, 38, 38), 7 / 255,
                                                                   np.float32))[0], atol=1e-5)


def test_a_crs_without_a_geotransform_places_nothing(tmp_path, run_cli):
    """A raster naming a CRS but with no geotransform, GCPs or RPCs: its outputs are in pixel
    coordinates without the CRS (given both, they would claim the identity's origin in it:
    a 1 m grid at 0 E, 0 N), with one warning; labels cannot be burnt on it."""
    from rasterio.errors import NotGeoreferencedWarning

    pixels = np.random.default_rng(8).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    image = tmp_path / "crs_only.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(image, "w", driver="GTiff", width=50, height=40, count=3,
                           dtype="uint8", crs="EPSG:32633") as dst:
            dst.write(pixels)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    for command, args, out in (("predict", [model, image], tmp_path / "p.tif"),
                               ("tile", [image, "--size", 20], tmp_path / "patches")):
        result = run_cli(command, *args, "-o", out)
        assert result.exit_code == 0, result.output
        lines = _warning_lines(result.stderr)
        assert len(lines) == 1 and "crs_only.tif" in lines[0] and "no geotransform" in lines[0]
        written = out if command == "predict" else next((out / "images").glob("*.tif"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(written) as src:
                assert src.crs is None
    labels = tmp_path / "labels.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      '"properties": {}, "geometry": {"type": "Polygon", "coordinates": '
                      '[[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]}}]}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "crs_only.tif", "no geotransform", "cannot be placed")


def test_a_crs_without_a_geotransform_pairs_with_rasters_of_its_pixels(tmp_path, run_cli):
    """A raster naming a CRS but with no geotransform, and a mask of its pixels without the
    CRS (geotile's make-masks and predict drop it) or with it (a script copying the image's
    profile): one pixel grid. tile --masks / --extra-bands, predict --extra-bands and
    evaluate refused the pair ('the mask has no georeferencing, while crs_only.tif has',
    'no CRS against CRS EPSG:32633'), though neither is placed on the map."""
    from tests.conftest import write_without_transform

    pixels = np.random.default_rng(9).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    image = write_without_transform(tmp_path / "crs_only.tif", pixels, crs="EPSG:32633")
    labels = (pixels[:1] > 127).astype(np.uint8)
    plain = write_without_transform(tmp_path / "plain.tif", labels)
    kept = write_without_transform(tmp_path / "kept.tif", labels, crs="EPSG:32633")
    for mask in (plain, kept):
        out = tmp_path / f"tiles_{mask.stem}"
        result = run_cli("tile", image, "--masks", mask, "--extra-bands", mask, "--size", 20,
                         "-o", out)
        assert result.exit_code == 0, result.output
        patch, _, transform = _read(out / "images" / "crs_only_1_1.tif")
        np.testing.assert_array_equal(patch[:3], pixels[:, 20:40, 20:40])
        np.testing.assert_array_equal(patch[3], labels[0, 20:40, 20:40])
        assert transform == Affine.translation(20, 20)
        patch_mask, _, _ = _read(out / "masks" / "crs_only_1_1.tif")
        np.testing.assert_array_equal(patch_mask, labels[:, 20:40, 20:40])
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", channels=4)
    result = run_cli("predict", model, image, "--extra-bands", plain, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    for pair in ((kept, plain), (plain, kept)):
        result = run_cli("evaluate", *pair, "--json")
        assert result.exit_code == 0, result.output
        assert '"iou": 1.0' in result.stdout


@pytest.mark.parametrize(("kind", "fix"), [
    ("none", "-a_ullr"), ("gcps", "gdalwarp -t_srs"), ("transform", "gdal_edit.py -a_srs")])
def test_crs_for_an_unmapped_raster_is_refused_with_a_fix_that_works(tmp_path, run_cli,
                                                                      make_raster, kind, fix):
    """vectorize --crs (polygons and --lines) on a raster nothing places on the map: the fix
    named works for that raster. 'Assign one with gdal_edit.py -a_srs' was said to all, but
    a CRS alone leaves a raster without geotransform unplaced, and GCPs need orthorectifying."""
    from tests.conftest import write_without_transform

    probabilities = np.zeros((1, 64, 64), np.float32)
    probabilities[0, 20:40, 10:50] = 0.9
    if kind == "none":
        raster = write_without_transform(tmp_path / "p.tif", probabilities)
    elif kind == "gcps":
        raster = _sensor_image(tmp_path / "p.tif", kind)
    else:
        raster = make_raster("p.tif", probabilities, crs=None)
    for lines in ([], ["--lines"]):
        result = run_cli("vectorize", raster, "-o", tmp_path / "v.gpkg", "--crs", "EPSG:4326",
                         *lines)
        assert_one_line_error(result, "p.tif", fix, "--crs EPSG:4326")
        assert not (tmp_path / "v.gpkg").exists()


def test_a_rotated_grids_pixel_size_is_said_as_its_sides(tmp_path, make_raster):
    """The grid difference of a 0.5 m grid turned by 30 degrees named its pixel size
    |a| x |e|, 0.433 x 0.433."""
    from geotile.crs_names import grid_difference

    pixels = np.zeros((1, 20, 20), np.uint8)
    turned = make_raster("turned.tif", pixels, transform=Affine.translation(500000, 0)
                         * Affine.rotation(30) * Affine.scale(0.5, -0.5))
    north = make_raster("north.tif", pixels, transform=Affine.translation(500000, 0)
                        * Affine.scale(0.5, -0.5))
    with rasterio.open(turned) as a, rasterio.open(north) as b:
        difference = grid_difference(a, b)
    assert difference.startswith("pixel size 0.5 x 0.5, rotation terms"), difference


def test_a_large_resampling_to_the_models_pixels_is_said(tmp_path, run_cli, make_raster):
    """A model's resolution metadata is in cm (Deepness's unit): 2.5 on 0.5 m pixels is a
    20x upsampling, slow and likely meant as metres: said without -v."""
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))  # 0.5 m pixels
    model = pointwise_model(tmp_path / "m.onnx", metadata={"resolution": "2.5"})  # 2.5 cm
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    lines = _warning_lines(result.stderr)
    assert len(lines) == 1 and "2.5 cm/px" in lines[0] and "20x" in lines[0]
    assert "--model-resolution" in lines[0]
    result = run_cli("predict", model, image, "-o", tmp_path / "q.tif", "--tile-size", "64",
                     "--model-resolution", "0.25")  # 2x: nothing to say
    assert result.exit_code == 0 and not _warning_lines(result.stderr), result.output


@pytest.mark.parametrize("mode", [[], ["--instances"], ["--lines"]])
def test_vectorize_a_crs_without_a_geotransform_in_pixels(tmp_path, run_cli, mode):
    """A third-party mask copying its image's profile: a CRS and no geotransform. vectorize
    wrote its pixel coordinates tagged with that CRS (--crs EPSG:4326 moved them to 0 N,
    beside the zone's meridian); they are pixels without a CRS, as of a raster naming none,
    with one warning saying why, and --crs is refused with a fix that works."""
    import geopandas as gpd

    from tests.conftest import write_without_transform

    road = np.zeros((1, 64, 64), np.float32)
    road[0, 30:34, 5:60] = 0.9
    outputs = {}
    for name, crs in (("plain", None), ("crs_only", "EPSG:32633")):
        raster = write_without_transform(tmp_path / f"{name}.tif", road, crs=crs)
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{name}.gpkg", *mode)
        assert result.exit_code == 0, result.output
        lines = _warning_lines(result.stderr)
        assert len(lines) == 1 and f"{name}.tif" in lines[0], result.stderr
        assert ("names a CRS but has no geotransform" in lines[0]) == (crs is not None)
        outputs[name] = gpd.read_file(tmp_path / f"{name}.gpkg")
        assert outputs[name].crs is None and len(outputs[name]) == 1
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{name}_4326.gpkg", "--crs",
                         "EPSG:4326", *mode)
        assert_one_line_error(result, f"{name}.tif", "-a_ullr", "--crs EPSG:4326")
        assert not (tmp_path / f"{name}_4326.gpkg").exists()
    assert outputs["crs_only"].geometry[0].equals_exact(outputs["plain"].geometry[0], 1e-9)
    x0, y0, x1, y1 = outputs["crs_only"].total_bounds
    assert x0 >= 4 and x1 <= 60 and y0 >= 29 and y1 <= 35  # pixels: x right, y down


def test_the_plain_copy_advised_for_georeferenced_extra_bands_keeps_their_values(tmp_path,
                                                                              run_cli):
    """A plain PNG photo with a float DSM GeoTIFF (georeferenced inside) as --extra-bands in
    a folder with a space was told to run 'gdal_translate --config GDAL_PAM_ENABLED NO -of
    PNG /tmp/a b/dsm.tif ...': unquoted paths, and a PNG turns Float32 heights into bytes
    (0.37 m -> 0, with only a GDAL warning). The copy advised is a baseline GeoTIFF (every
    type and band count) with quoted paths; run literally it tiles."""
    import shlex
    import shutil
    import subprocess

    folder = tmp_path / "sub dir"
    folder.mkdir()
    _plain(folder / "img.png", np.full((3, 64, 64), 9, np.uint8), "PNG")
    heights = np.random.default_rng(0).random((1, 64, 64), dtype=np.float32)
    with rasterio.open(folder / "dsm.tif", "w", driver="GTiff", width=64, height=64, count=1,
                       dtype="float32", crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(500000, 4000000, 1, 1)) as dst:
        dst.write(heights)
    result = run_cli("tile", folder / "img.png", "--extra-bands", folder / "dsm.tif", "-o",
                     tmp_path / "out", "--size", 32)
    assert_one_line_error(result, "the --extra-bands raster is georeferenced (in dsm.tif)")
    command = result.stderr.split("a copy without it: ", 1)[1].split(") when", 1)[0]
    words = shlex.split(command)
    assert words[0] == "gdal_translate" and "-of" not in words, command
    assert words[-2:] == [str(folder / "dsm.tif"), str(folder / "dsm_plain.tif")], command
    if shutil.which("gdal_translate") is None:
        return
    subprocess.run(words, check=True, capture_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(folder / "dsm_plain.tif") as src:
            assert src.crs is None and src.transform.is_identity
            np.testing.assert_array_equal(src.read(), heights)
    result = run_cli("tile", folder / "img.png", "--extra-bands", folder / "dsm_plain.tif",
                     "-o", tmp_path / "out", "--size", 32)
    assert result.exit_code == 0, result.output


def _portrait_photo(tmp_path, orientation=6):
    """A 40 x 30 px (stored) phone JPEG whose EXIF orientation has viewers show it 30 x 40."""
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(9).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif.tobytes())
    return tmp_path / "photo.jpg"


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_mask_drawn_on_the_rotated_view_of_a_photo_is_refused_naming_the_rotation(
        tmp_path, run_cli, orientation):
    """A mask drawn on what viewers show of an EXIF-rotated JPEG (30 x 40 against the stored
    40 x 30): tile and make-masks name the orientation and how to rotate the photo, not
    'make it with make-masks' or 'give one of the image's size'."""
    Image = pytest.importorskip("PIL.Image")
    photo = _portrait_photo(tmp_path, orientation)
    mask = np.zeros((40, 30), np.uint8)
    mask[:20] = 1
    Image.fromarray(mask).save(tmp_path / "photo_mask.png")
    result = run_cli("tile", photo, "--masks", tmp_path / "photo_mask.png", "--size", "16",
                     "-o", tmp_path / "out")
    assert_one_line_error(result, "photo.jpg", f"EXIF orientation ({orientation})",
                          "30x40", "exiftran -ai")
    assert not (tmp_path / "out" / "index.csv").exists()
    result = run_cli("make-masks", tmp_path / "photo_mask.png", photo, "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "photo.jpg", f"EXIF orientation ({orientation})",
                          "exiftran -ai")
    assert not (tmp_path / "m.tif").exists()


def test_a_grey_photo_refused_by_an_rgb_model_is_one_line(tmp_path, run_cli):
    """A greyscale JPEG (no georeferencing) and a 3-channel model: the refusal is the one
    line on stderr, without the pixel-coordinates warning before it."""
    grey = np.random.default_rng(5).integers(0, 255, (1, 30, 40), dtype=np.uint8)
    _plain(tmp_path / "grey.jpg", grey, "JPEG")
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, tmp_path / "grey.jpg", "-o", tmp_path / "p.tif",
                     "--tile-size", "32")
    assert_one_line_error(result, "grey.jpg", "--bands 1,1,1")
    assert not (tmp_path / "p.tif").exists()


@pytest.mark.parametrize("orientation", [3, 6])
def test_a_turned_drone_photo_with_its_stored_mask_warns_to_turn_both(tmp_path, run_cli,
                                                                       orientation):
    """FloodNet's 4000 x 3000 drone JPEGs and their _lab.png masks are on the stored pixels
    (its loaders read both without EXIF rotation). tile pairs them so, but its warning said
    to rotate the photo alone (`exiftran -ai`): done, the mask lay half a turn off the
    photo (orientation 3: no size tells) or was refused (6). The warning names the mask,
    says it is taken as drawn on the stored pixels and to turn both together."""
    Image = pytest.importorskip("PIL.Image")
    classes = np.zeros((30, 40), np.uint8)
    classes[:10, :20] = 1  # top left, as stored
    classes[20:, 30:] = 5
    pixels = np.stack([classes * 40] * 3, axis=-1).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "6467.jpg", exif=exif.tobytes(), quality=95)
    Image.fromarray(classes).save(tmp_path / "6467_lab.png")
    result = run_cli("tile", tmp_path / "6467.jpg", "--masks", tmp_path / "6467_lab.png",
                     "--size", 20, "--format", "png", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    turned = [line for line in _warning_lines(result.stderr)
              if f"EXIF orientation ({orientation})" in line]
    assert len(turned) == 1, result.stderr
    assert "6467_lab.png" in turned[0] and "together" in turned[0], turned[0]
    assert "drawn on the stored pixels" in turned[0], turned[0]
    rows = list(csv.DictReader((tmp_path / "out" / "index.csv").read_text().splitlines()))
    for row in rows:  # the patches pair the stored pixels with the mask as stored
        top, left = int(row["y_off"]), int(row["x_off"])
        mask = np.asarray(Image.open(tmp_path / "out" / row["mask"]))
        np.testing.assert_array_equal(mask, classes[top:top + 20, left:left + 20])


def test_turned_photos_with_masks_are_warned_of_once(tmp_path, run_cli):
    """The warning naming each photo's mask kept a FloodNet folder's turned photos apart:
    one line per photo (1,445 for its training set). The first is said with its mask's name,
    the others once at the end, as other advice is."""
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "org").mkdir()
    (tmp_path / "lab").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    for stem in ("6467", "6468", "6469"):
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(
            tmp_path / "org" / f"{stem}.jpg", exif=exif.tobytes())
        Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "lab" / f"{stem}_lab.png")
    result = run_cli("tile", tmp_path / "org", "--masks", tmp_path / "lab", "--size", 20,
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    turned = [line for line in _warning_lines(result.stderr) if "EXIF orientation (6)" in line]
    assert len(turned) == 2, result.stderr
    assert "6467.jpg" in turned[0] and "6467_lab.png" in turned[0], turned[0]
    assert "2 more images (6468.jpg, 6469.jpg)" in turned[1], turned[1]


def _plain_mask(path, mask):
    """A one-band PNG of ``mask`` (no CRS, no geotransform), as a drone photo's mask."""
    return _plain(path, mask[None].astype(np.uint8), "PNG")


def _pixel_scene(tmp_path, run_cli, kind, shape=(80, 300)):
    """Truth and prediction masks of one plain image (the prediction 1 px lower), vectorized
    (``kind``: "lines" or "polygons") to GeoJSON and GeoPackage: {(side, ext): path}."""
    height, width = shape
    truth = np.zeros(shape, np.uint8)
    if kind == "lines":
        truth[height // 2 - 2:height // 2 + 3, 10:width - 10] = 1
    else:
        truth[10:30, 10:40] = 1  # 600 px^2
        truth[40:50, 60:70] = 1  # 100 px^2
    pred = np.roll(truth, 1, axis=0)
    files = {}
    for side, mask in (("truth", truth), ("pred", pred)):
        png = _plain_mask(tmp_path / f"{side}.png", mask)
        for ext in ("geojson", "gpkg"):
            out = tmp_path / f"{side}.{ext}"
            result = run_cli("vectorize", png, "-o", out,
                             *(["--lines"] if kind == "lines" else []))
            assert result.exit_code == 0, result.output
            files[side, ext] = out
    return files, truth, pred


@pytest.mark.parametrize("exts", [("geojson", "geojson"), ("geojson", "gpkg"),
                                  ("gpkg", "geojson")])
def test_pixel_lines_in_geojson_are_scored_in_pixels(tmp_path, run_cli, exts):
    """vectorize --lines of a PNG to .geojson wrote pixel coordinates without a word of it in
    the file, and evaluate read them as lon/lat: a road shifted 1 px scored precision 0
    with 5,520,702 m of predicted line, exit 0 (against a GeoPackage of the same pixels:
    refused). The file says "crs": null (GeoJSON 2008: no CRS can be assumed), and evaluate
    scores them in pixels, as two GeoPackages without CRS."""
    import json

    files, _, _ = _pixel_scene(tmp_path, run_cli, "lines")
    document = json.loads(files["pred", "geojson"].read_text())
    assert "crs" in document and document["crs"] is None
    pred, truth = files["pred", exts[0]], files["truth", exts[1]]
    lengths = [sum(float(np.hypot(*np.diff(np.asarray(f["geometry"]["coordinates"]), axis=0).T
                                  ).sum()) for f in json.loads(files[s, "geojson"].read_text())
                   ["features"]) for s in ("pred", "truth")]
    result = run_cli("evaluate", pred, truth, "--buffer", 2, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["units"] == "coordinates"
    assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 1.0, 1.0)
    assert scores["predicted_length_m"] == pytest.approx(lengths[0])
    assert scores["true_length_m"] == pytest.approx(lengths[1])
    narrow = json.loads(run_cli("evaluate", pred, truth, "--buffer", 0.5, "--json").stdout)
    assert (narrow["precision"], narrow["recall"]) == (0.0, 0.0)  # 1 px apart


@pytest.mark.parametrize("exts", [("geojson", "geojson"), ("geojson", "gpkg"),
                                  ("gpkg", "geojson")])
def test_pixel_polygons_in_geojson_are_scored_in_pixels(tmp_path, run_cli, exts):
    """Buildings vectorized from a PNG to .geojson were scored as lon/lat polygons (20
    degrees wide, in UTM), --min-area in m^2 of those; against a GeoPackage of the same
    pixels, refused. Now scored in pixels: IoU of the 1 px shift, --min-area in px^2."""
    import json

    files, truth, pred = _pixel_scene(tmp_path, run_cli, "polygons")
    pred_file, truth_file = files["pred", exts[0]], files["truth", exts[1]]
    result = run_cli("evaluate", pred_file, truth_file, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 0)
    ious = [np.logical_and(truth[s], pred[s]).sum() / np.logical_or(truth[s], pred[s]).sum()
            for s in (np.s_[:35, :50], np.s_[35:, 50:])]
    assert scores["mean_iou"] == pytest.approx(np.mean(ious))
    small, large = 100, 600  # px^2 of the two buildings
    result = run_cli("evaluate", pred_file, truth_file, "--min-area", (small + large) / 2,
                     "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 0)


@pytest.mark.parametrize("kind", ["lines", "polygons"])
def test_an_empty_pixel_geojson_is_scored_in_pixels_too(tmp_path, run_cli, kind):
    """A photo without roads or buildings vectorizes to an empty GeoJSON, which was read as
    lon/lat against a GeoPackage of the other pixels: refused ('declares no CRS while the
    other one does'). It says "crs": null too: nothing found scores recall 0 (all truth missed), a
    truth of nothing precision 0."""
    import json

    files, _, _ = _pixel_scene(tmp_path, run_cli, kind)
    empty = tmp_path / "empty.geojson"
    png = _plain_mask(tmp_path / "empty.png", np.zeros((80, 300), np.uint8))
    result = run_cli("vectorize", png, "-o", empty, *(["--lines"] if kind == "lines" else []))
    assert result.exit_code == 0, result.output
    assert json.loads(empty.read_text())["features"] == []
    truths = len(json.loads(files["truth", "geojson"].read_text())["features"])
    for pair in ((empty, files["truth", "geojson"]), (empty, files["truth", "gpkg"]),
                 (files["truth", "gpkg"], empty)):
        result = run_cli("evaluate", *pair, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["recall" if pair[0] == empty else "precision"] == 0.0
        if kind == "polygons":
            assert (scores["fn"] if pair[0] == empty else scores["fp"]) == truths


def test_make_masks_burns_a_pixel_geojson_on_its_photo(tmp_path, run_cli):
    """make-masks of vectorize's GeoJSON of a PNG on that PNG (as evaluate's 'compare like
    with like' advises for a mask truth) read it as lon/lat and refused it (pass
    --labels-crs pixels); its "crs": null says no CRS: burnt on the pixels it came from."""
    files, truth, _ = _pixel_scene(tmp_path, run_cli, "polygons")
    out = tmp_path / "burnt.tif"
    result = run_cli("make-masks", files["truth", "geojson"], tmp_path / "truth.png", "-o", out)
    assert result.exit_code == 0, result.output
    mask, crs, _ = _read(out)
    assert crs is None
    np.testing.assert_array_equal(mask[0], truth)


def _pixel_geojson(path, lines):
    """A GeoJSON of ``lines`` in pixel coordinates without a crs member, as users write
    Labelme-like files themselves (json.dumps): GeoJSON readers take them for lon/lat."""
    import json

    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "LineString", "coordinates": line}} for line in lines]}))
    return path


def test_pixel_lines_beyond_lonlat_in_geojson_without_crs_are_read_in_pixels(tmp_path,
                                                                             run_cli):
    """Two GeoJSONs of pixel lines without a crs member (a 400 x 300 px photo's roads,
    y up to 250) were refused as not lon/lat with advice to pass the CRS they are in, which
    pixels have none of. Coordinates that cannot be lon/lat in either file (the other's
    within its range and on the same pixels) read both in no CRS, with a warning."""
    import json

    upper, lower = [[10, 40], [390, 40]], [[10, 250], [390, 250]]
    truth = _pixel_geojson(tmp_path / "truth.geojson", [upper, lower])
    pred = _pixel_geojson(tmp_path / "pred.geojson",
                          [[[x, y + 1] for x, y in line] for line in (upper, lower)])
    found = _pixel_geojson(tmp_path / "upper.geojson", [[[x, y + 1] for x, y in upper]])
    for prediction, recall in ((pred, 1.0), (found, 0.5)):  # (found: within lon/lat's range)
        result = run_cli("evaluate", prediction, truth, "--buffer", 2, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert (scores["units"], scores["precision"], scores["recall"]) == (
            "coordinates", 1.0, recall)
        assert scores["true_length_m"] == pytest.approx(2 * 380)
        assert "not longitude/latitude" in result.stderr and "no CRS" in result.stderr
        narrow = json.loads(run_cli("evaluate", prediction, truth, "--buffer", 0.5,
                                    "--json").stdout)
        assert narrow["precision"] == 0.0


def test_pixel_geojson_against_a_georeferenced_file_is_refused(tmp_path, run_cli):
    """Pixel lines (no crs member, beyond lon/lat) against lines in a map CRS, or against
    lon/lat lines elsewhere, cannot be scored: one line naming the pixel file, exit 1."""
    import geopandas as gpd
    import shapely

    pixels = _pixel_geojson(tmp_path / "pixels.geojson", [[[10, 250], [390, 250]]])
    utm = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(500000, 3300000), (500100, 3300000)])],
                     crs="EPSG:32615").to_file(utm)
    lonlat = _pixel_geojson(tmp_path / "lonlat.geojson",
                            [[[-95.3601, 29.7601], [-95.3591, 29.7601]]])
    for truth in (utm, lonlat):
        for pair in ((pixels, truth), (truth, pixels)):
            result = run_cli("evaluate", *pair, "--json")
            assert_one_line_error(result, str(pixels), "not longitude/latitude")


def _point_without_crs(path, array):
    """A PixelIsPoint GeoTIFF with a geotransform and no CRS. GDAL writes its raster-type
    GeoKey alone and reads that back as a CRS: LOCAL_CS["unnamed"] of unit "unknown"."""
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0],
                       count=1, dtype=array.dtype.name,
                       transform=Affine(0.5, 0, 1000.0, 0, -0.5, 2000.0)) as dst:
        dst.update_tags(AREA_OR_POINT="Point")
        dst.write(array, 1)
    return path


def _square_labels(path, transform, x0, y0, x1, y1):
    """A label file without CRS holding the square of pixels (x0, y0)-(x1, y1) under
    ``transform``."""
    import json

    corners = [transform * xy for xy in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": None, "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [corners]}}]}))
    return path


def test_a_pixel_is_point_raster_without_crs_is_one_without_crs(tmp_path, run_cli):
    """GDAL reads a PixelIsPoint GeoTIFF without CRS as in LOCAL_CS["unnamed"] of unit
    "unknown": make-masks refused its labels without CRS ('the labels declare no CRS. Pass
    --labels-crs EPSG:xxxx') and vectorize gave its polygons that CRS with its unit made
    metres (areas said in m^2 without a word) -> both as for its Area twin: the mask burnt,
    the polygons in no CRS, with the warning that says their units."""
    import geopandas as gpd

    image = _point_without_crs(tmp_path / "pt.tif", np.zeros((40, 40), np.uint8))
    with rasterio.open(image) as src:
        transform = src.transform
        assert src.crs is not None and src.crs.to_wkt().startswith('LOCAL_CS["unnamed"')
    labels = _square_labels(tmp_path / "l.geojson", transform, 10, 12, 20, 30)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as mask:
        assert mask.transform == transform
        assert mask.tags().get("AREA_OR_POINT") == "Point"
        burnt = mask.read(1)
    expected = np.zeros((40, 40), np.uint8)
    expected[12:30, 10:20] = 1
    assert np.array_equal(burnt, expected)

    classes = _point_without_crs(tmp_path / "c.tif", expected)
    result = run_cli("vectorize", classes, "-o", tmp_path / "v.gpkg")
    assert result.exit_code == 0, result.output
    assert "no CRS" in result.output and "in those units" in result.output
    polygons = gpd.read_file(tmp_path / "v.gpkg")
    assert polygons.crs is None
    assert polygons.geometry.iloc[0].equals(
        gpd.read_file(labels).set_crs(None, allow_override=True).geometry.iloc[0])
    assert polygons["area_m2"].iloc[0] == pytest.approx(10 * 18 * 0.25)


def test_labels_in_gdals_no_crs_placeholder_are_labels_without_crs(tmp_path, run_cli):
    """gdal_polygonize.py of a PixelIsPoint raster without CRS writes its polygons in the CRS
    GDAL read for it, LOCAL_CS["unnamed"] of unit "unknown": make-masks refused them on
    that raster ('the raster has no CRS, so the labels ... (LOCAL_CS["unnamed"...]) cannot
    be placed on it') -> they are labels without CRS: burnt on it as its coordinates."""
    import geopandas as gpd
    import shapely

    from geotile.no_georef import NO_CRS_READ_AS

    image = _point_without_crs(tmp_path / "pt.tif", np.zeros((40, 40), np.uint8))
    with rasterio.open(image) as src:
        transform, placeholder = src.transform, src.crs.to_wkt()
    assert placeholder.startswith(NO_CRS_READ_AS)
    square = shapely.Polygon([transform * xy for xy in ((3, 4), (9, 4), (9, 7), (3, 7))])
    labels = tmp_path / "polygonized.gpkg"
    gpd.GeoDataFrame(geometry=[square], crs=placeholder).to_file(labels)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((40, 40), np.uint8)
    expected[4:7, 3:9] = 1
    with rasterio.open(tmp_path / "m.tif") as mask:
        assert np.array_equal(mask.read(1), expected)


def test_model_resolution_is_not_applied_to_a_pixel_is_point_raster_without_crs(
        tmp_path, run_cli):
    """--model-resolution 1 on a PixelIsPoint raster without CRS took GDAL's LOCAL_CS
    "unnamed" of unit "unknown" for metres ('0.5 m pixels, the model expects 1 m') and
    resampled its windows -> as for its Area twin: its pixel size is unknown on the ground,
    nothing is resampled."""
    pixels = np.random.default_rng(3).integers(0, 255, (40, 40)).astype(np.uint8)
    image = _point_without_crs(tmp_path / "pt.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "native.tif")
    assert result.exit_code == 0, result.output
    result = run_cli("predict", model, image, "-o", tmp_path / "asked.tif",
                     "--model-resolution", "1", "-v")
    assert result.exit_code == 0, result.output
    assert "0.5 m pixels" not in result.output and "no CRS" in result.output
    assert np.array_equal(_read(tmp_path / "asked.tif")[0], _read(tmp_path / "native.tif")[0])


def test_spacenet_csv_of_a_pixel_is_point_raster_without_crs(tmp_path, run_cli):
    """vectorize -o x.csv of a PixelIsPoint raster without CRS refused it as 'in a local CRS
    (unnamed), tied to no place on the earth' -> as its Area twin: PolygonWKT_Pix holds the
    building, PolygonWKT_Geo is POLYGON EMPTY, with the warning that says why."""
    classes = np.zeros((40, 40), np.uint8)
    classes[5:15, 20:30] = 1
    raster = _point_without_crs(tmp_path / "pt.tif", classes)
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.csv")
    assert result.exit_code == 0, result.output
    assert "no CRS" in result.output
    with open(tmp_path / "b.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["PolygonWKT_Geo"] == "POLYGON EMPTY"
    import shapely

    assert shapely.from_wkt(row["PolygonWKT_Pix"]).normalize().equals(
        shapely.box(20, 5, 30, 15).normalize())


def test_relaxed_scores_of_pixel_is_point_rasters_without_crs_say_their_units(tmp_path,
                                                                              run_cli):
    """evaluate --buffer on PixelIsPoint rasters without CRS said "units": "m", GDAL's
    LOCAL_CS "unnamed" of unit "unknown" taken for metres -> "coordinates", as for their
    Area twins: the buffer is in their coordinates' units."""
    import json

    truth = np.zeros((40, 40), np.uint8)
    truth[10:12, 5:35] = 1
    raster = _point_without_crs(tmp_path / "roads.tif", truth)
    result = run_cli("evaluate", raster, raster, "--buffer", "2", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["units"], scores["rho_px"]) == ("coordinates", 4.0)


def test_evaluate_a_plain_truth_against_a_georeferenced_prediction_names_the_fix(
        tmp_path, run_cli):
    """WHU's label tiles may come without the georeferencing of their images (train/label/0.tif
    beside train/image/0.tif): a prediction on the image's grid against such a truth was told
    'not on the same grid: CRS EPSG:2193 against no CRS. Rasterize the truth labels...'. The
    one line says which is georeferenced and the gdal_translate that gives the truth the
    prediction's grid; that georeferenced truth scores 1.0."""
    import json
    import re
    import shlex
    import shutil
    import subprocess

    from rasterio.transform import from_origin

    from tests.conftest import write_raster

    labels = np.zeros((64, 64), np.uint8)
    labels[10:30, 5:40] = 255
    folder = tmp_path / "3. The cropped image tiles and raster labels" / "train" / "label"
    folder.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        truth = write_raster(folder / "0.tif", labels, crs=None, transform=Affine.identity())
    prediction = write_raster(tmp_path / "0.tif", (labels > 0).astype(np.uint8),
                              crs="EPSG:2193",
                              transform=from_origin(1750000.0, 5920000.0, 0.3, 0.3))
    result = run_cli("evaluate", str(prediction), str(truth))
    assert_one_line_error(result, str(truth), "has no georeferencing, while 0.tif has",
                          "gdal_translate -a_srs EPSG:2193")
    command = re.search(r"\((gdal_translate .*)\)\.$", result.stderr.strip())[1]
    assert shlex.split(command)[-2:] == [str(truth), str(folder / "0_georef.tif")]
    if shutil.which("gdal_translate") is None:
        return
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    fixed = folder / "0_georef.tif"
    result = run_cli("evaluate", str(prediction), str(fixed), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
