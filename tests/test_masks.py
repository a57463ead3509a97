"""make-masks: grids, burn rules, classes, channels, reprojection, warnings (library level)."""

from __future__ import annotations

import dataclasses
import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geotile.errors import GeotileWarning, InputError
from geotile.masks import (
    MaskOptions,
    burn_shapes,
    geojson_dicts,
    make_masks,
    rasterize_labels,
)

from .conftest import UTM_CRS, UTM_ORIGIN, rgbn_with_a_lake

X0, Y0 = UTM_ORIGIN


def pixel_centres(transform, height, width):
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    xs, ys = transform * (cols, rows)
    return xs, ys


def reference_mask(geometries, classes, transform, height, width):
    """Independent reference: a pixel belongs to the last polygon containing its centre."""
    xs, ys = pixel_centres(transform, height, width)
    out = np.zeros((height, width), np.uint8)
    for geom, cls in zip(geometries, classes, strict=True):
        out[shapely.contains_xy(geom, xs, ys)] = cls
    return out


def square(x, y, size):
    """A square in map units whose top-left corner is ``size`` m... at (x, y) (north-up)."""
    return shapely.box(x, y - size, x + size, y)


def write_labels(path, geometries, crs=UTM_CRS, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs).to_file(path)
    return path


def read(path):
    with rasterio.open(path) as src:
        return src.read(), src.profile


def test_real_spacenet_tile_matches_reference_pixel_for_pixel(real_data, tmp_path):
    image = real_data / "spacenet" / "sample_geotiff.tif"
    labels = real_data / "spacenet" / "geotiff_labels.geojson"
    make_masks(labels, [image], [tmp_path / "mask.tif"])
    mask, profile = read(tmp_path / "mask.tif")
    with rasterio.open(image) as src:
        assert (profile["width"], profile["height"]) == (src.width, src.height)
        assert profile["transform"] == src.transform and profile["crs"] == src.crs
        frame = gpd.read_file(labels).to_crs(src.crs)
        expected = reference_mask(
            frame.geometry.make_valid(), [1] * len(frame), src.transform, src.height, src.width
        )
    assert mask.shape == (1, 900, 900)
    assert expected.sum() > 10_000  # the tile really holds buildings
    np.testing.assert_array_equal(mask[0], expected)


def test_real_spacenet_labels_in_another_crs_are_reprojected(real_data, tmp_path):
    image = real_data / "spacenet" / "sample_geotiff.tif"
    lonlat = tmp_path / "labels_4326.geojson"
    gpd.read_file(real_data / "spacenet" / "geotiff_labels.geojson").to_crs(4326).to_file(lonlat)
    make_masks(lonlat, [image], [tmp_path / "mask.tif"])
    mask, _ = read(tmp_path / "mask.tif")
    with rasterio.open(image) as src:
        # the reference reprojects the same lon/lat polygons independently
        frame = gpd.read_file(lonlat).to_crs(src.crs)
        expected = reference_mask(
            frame.geometry.make_valid(), [1] * len(frame), src.transform, src.height, src.width
        )
    np.testing.assert_array_equal(mask[0], expected)


def test_custom_projection_labels_without_crs_need_labels_crs(real_data, tmp_path):
    image = real_data / "spacenet" / "sample_geotiff_custom_proj.tif"
    labels = real_data / "spacenet" / "geotiff_custom_proj_labels.geojson"
    with pytest.raises(InputError, match="--labels-crs"):
        make_masks(labels, [image], [tmp_path / "mask.tif"])
    assert not (tmp_path / "mask.tif").exists()
    with rasterio.open(image) as src:
        wkt = src.crs.to_wkt()
    make_masks(labels, [image], [tmp_path / "mask.tif"], labels_crs=wkt)
    mask, _ = read(tmp_path / "mask.tif")
    assert mask.sum() > 0


def test_holes_multipolygons_and_bowties(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    ring = shapely.Polygon(
        [(X0 + 2, Y0 - 2), (X0 + 12, Y0 - 2), (X0 + 12, Y0 - 12), (X0 + 2, Y0 - 12)],
        holes=[[(X0 + 5, Y0 - 5), (X0 + 9, Y0 - 5), (X0 + 9, Y0 - 9), (X0 + 5, Y0 - 9)]],
    )
    multi = shapely.MultiPolygon([square(X0 + 14, Y0 - 1, 2), square(X0 + 17, Y0 - 1, 2)])
    bowtie = shapely.Polygon([(X0 + 2, Y0 - 14), (X0 + 10, Y0 - 19), (X0 + 10, Y0 - 14),
                              (X0 + 2, Y0 - 19)])
    assert not bowtie.is_valid
    labels = write_labels(tmp_path / "l.geojson", [ring, multi, bowtie])
    make_masks(labels, [image], [tmp_path / "m.tif"])
    mask = read(tmp_path / "m.tif")[0][0]
    transform = from_origin(X0, Y0, 0.5, 0.5)
    expected = reference_mask([ring, multi, shapely.make_valid(bowtie)], [1, 1, 1], transform,
                              40, 40)
    np.testing.assert_array_equal(mask, expected)
    assert mask[14, 14] == 0  # inside the hole
    assert mask[6, 6] == 1
    assert expected[28:38, 4:20].sum() > 20  # the repaired bow-tie was burnt, not dropped



def test_polygons_of_no_area_are_said_not_dropped_silently(make_raster, tmp_path):
    """Polygons whose rings collapse to a line (a sliver digitised back on itself, a
    circle an export wrote degenerate) were left out in silence: 3 features in, the summary
    said "1 features" and nothing told which went where."""
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    good = square(X0 + 2, Y0 - 2, 4)
    folded = shapely.Polygon([(X0 + 10, Y0 - 2), (X0 + 14, Y0 - 6), (X0 + 14, Y0 - 6),
                              (X0 + 10, Y0 - 2)])
    flat = shapely.Polygon([(X0 + 2, Y0 - 10), (X0 + 6, Y0 - 10), (X0 + 9, Y0 - 10)])
    labels = write_labels(tmp_path / "l.geojson", [good, folded, flat])
    with pytest.warns(GeotileWarning, match=r"l.geojson: 2 polygons have no area .*left out.*"
                                            rf"at \({X0 + 10:.0f}, {Y0 - 2:.0f}\)"):
        [summary] = make_masks(labels, [image], [tmp_path / "m.tif"])
    assert summary["features"] == 1
    mask = read(tmp_path / "m.tif")[0][0]
    expected = reference_mask([good], [1], from_origin(X0, Y0, 0.5, 0.5), 40, 40)
    np.testing.assert_array_equal(mask, expected)


def test_all_touched_burns_every_touched_pixel():
    transform = from_origin(0, 10, 1, 1)
    triangle = shapely.Polygon([(0.2, 9.8), (6.9, 9.8), (0.2, 3.1)])
    default = rasterize_labels([triangle], [1], (10, 10), transform)[0]
    touched = rasterize_labels([triangle], [1], (10, 10), transform,
                               MaskOptions(all_touched=True))[0]
    boxes = [[shapely.box(c, 9 - r, c + 1, 10 - r) for c in range(10)] for r in range(10)]
    expected = np.array([[triangle.intersects(b) for b in row] for row in boxes])
    np.testing.assert_array_equal(touched.astype(bool), expected)
    assert default.sum() < touched.sum()


def test_classes_later_rows_win_and_names_are_tagged(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    big, small = square(X0, Y0, 8), square(X0 + 2, Y0 - 2, 3)
    labels = write_labels(tmp_path / "l.geojson", [big, small], kind=["house", "shed"])
    class_map = {"house": 1, "shed": 2}
    make_masks(labels, [image], [tmp_path / "m.tif"], class_field="kind", class_map=class_map)
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
        names = json.loads(src.tags()["GEOTILE_CLASS_NAMES"])
        assert src.descriptions == ("class",)  # class ids, not the building footprint
    assert names == ["background", "house", "shed"]
    assert mask[6, 6] == 2 and mask[1, 1] == 1 and mask[18, 18] == 0
    # reversed order: the later (big) polygon covers the small one
    labels2 = write_labels(tmp_path / "l2.geojson", [small, big], kind=["shed", "house"])
    make_masks(labels2, [image], [tmp_path / "m2.tif"], class_field="kind", class_map=class_map)
    assert read(tmp_path / "m2.tif")[0][0][6, 6] == 1


def test_class_name_missing_from_map_is_an_error(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 3)], kind=["garage"])
    with pytest.raises(InputError, match=r"'garage'.*not in the class map"):
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="kind",
                   class_map={"house": 1})


def test_integer_class_field_is_used_as_ids(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 3), square(X0 + 5, Y0, 3)],
                          cls=[3, 7])
    make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = read(tmp_path / "m.tif")[0][0]
    assert set(np.unique(mask)) == {0, 3, 7}


@pytest.mark.parametrize("spacing", [1, 2, 3, 5, 6, 10, 11])
def test_contact_band_is_every_gap_pixel_with_two_buildings_in_its_disc(spacing):
    """contact_band (a disc maximum made of 1-D row maxima) against its definition, pixel by
    pixel: a background pixel with two different ids at dx*dx + dy*dy <= (spacing / 2)**2,
    ids touching the array's edges included."""
    from geotile.masks import contact_band

    rng = np.random.default_rng(spacing)
    instances = np.zeros((40, 47), np.int32)
    for number in range(1, 30):
        y, x = rng.integers(-3, 40), rng.integers(-3, 47)
        h, w = rng.integers(1, 7, 2)
        instances[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = number
    radius = spacing / 2
    expected = np.zeros(instances.shape, np.uint8)
    reach = int(np.ceil(radius))
    for y, x in zip(*np.nonzero(instances == 0), strict=True):
        seen = {int(instances[y + dy, x + dx])
                for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
                if dx * dx + dy * dy <= radius * radius + 1e-9
                and 0 <= y + dy < instances.shape[0] and 0 <= x + dx < instances.shape[1]}
        expected[y, x] = len(seen - {0}) >= 2
    np.testing.assert_array_equal(contact_band(instances, spacing), expected)
    assert expected.any() or spacing < 3


def test_boundary_and_contact_channels():
    transform = from_origin(0, 40, 1, 1)
    left, right = shapely.box(5, 10, 15, 30), shapely.box(19, 10, 29, 30)  # 4 px gap
    far = shapely.box(5, 32, 15, 39)
    options = MaskOptions(channels=("footprint", "boundary", "contact"), boundary_width=2,
                          contact_spacing=6)
    footprint, boundary, contact = rasterize_labels(
        [left, right, far], [1, 1, 1], (40, 40), transform, options
    )
    # boundary: 1 px either side of every outline (r = 1)
    assert boundary[20, 4] == boundary[20, 5] == 1 and boundary[20, 14] == boundary[20, 15] == 1
    assert boundary[20, 10] == 0 and boundary[20, 3] == 0
    # contact: gap pixels (cols 15-18) with both buildings within 3 px (cols 14 and 19)
    np.testing.assert_array_equal(contact[20, 14:20], [0, 0, 1, 1, 0, 0])
    assert contact[10:30, :4].sum() == 0  # nothing on the outer side of a building
    # far (rows 1-7) and left (rows 10-29) leave a 2 px gap: both rows are contact
    assert contact[8:10, 10].all()
    assert footprint.sum() == 200 + 200 + 70


def test_band_seams_are_exact(make_raster, tmp_path):
    rng = np.random.default_rng(3)
    geometries = [square(X0 + x, Y0 - y, s) for x, y, s in rng.uniform(0, 60, (40, 3)) / [1, 1, 6]]
    image = make_raster("img.tif", np.zeros((150, 130), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", geometries)
    channels = ("footprint", "boundary", "contact")
    options = MaskOptions(channels=channels, boundary_width=3, contact_spacing=8)
    make_masks(labels, [image], [tmp_path / "whole.tif"], options=options)
    make_masks(labels, [image], [tmp_path / "bands.tif"],
               options=dataclasses.replace(options, band_rows=16))
    whole, bands = read(tmp_path / "whole.tif")[0], read(tmp_path / "bands.tif")[0]
    assert whole[1].sum() > 0 and whole[2].sum() > 0
    np.testing.assert_array_equal(whole, bands)


@pytest.mark.parametrize("band_rows", [7, 16, 50])
def test_band_seams_are_exact_when_vertices_sit_on_pixel_centres(make_raster, tmp_path,
                                                                 band_rows):
    """Labels snapped to a grid half a pixel off the image's (vertices on pixel centres, edges
    through them) put GDAL's burn rule on its ties: a band must break them as the whole
    raster does, and both as rasterio burns the whole raster (GDAL's rows are chunks of one
    pixel grid, not grids of their own)."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    transform = from_origin(X0 + 0.15, Y0 + 0.45, 0.3, 0.3)  # 0.3 m: not a binary fraction
    height, width = 120, 90
    image = make_raster("img.tif", np.zeros((height, width), np.uint8), transform=transform)
    rng = np.random.default_rng(5)
    geometries = []
    for col, row, size in rng.integers([0, 0, 2], [width, height, 12], (60, 3)).tolist():
        corners = [(col, row), (col + size, row), (col + size, row + size), (col, row + size)]
        diamond = [(col + size / 2, row), (col + size, row + size / 2),
                   (col + size / 2, row + size), (col, row + size / 2)]
        for ring in (corners, diamond):
            geometries.append(shapely.Polygon([transform * (c + 0.5, r + 0.5) for c, r in ring]))
    labels = write_labels(tmp_path / "l.geojson", geometries)
    make_masks(labels, [image], [tmp_path / "whole.tif"])
    make_masks(labels, [image], [tmp_path / "bands.tif"],
               options=MaskOptions(band_rows=band_rows))
    whole, bands = read(tmp_path / "whole.tif")[0][0], read(tmp_path / "bands.tif")[0][0]
    gdal = rasterize(gpd.read_file(labels).geometry, out_shape=(height, width),
                     transform=transform, dtype="uint8")
    assert gdal.sum() > 1000
    np.testing.assert_array_equal(whole, gdal)
    np.testing.assert_array_equal(bands, gdal)


def test_labels_outside_raster_warn_and_write_zeros(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0 + 5000, Y0, 10)])
    with pytest.warns(GeotileWarning, match="no feature overlaps img.tif.*--labels-crs"):
        make_masks(labels, [image], [tmp_path / "m.tif"])
    mask, profile = read(tmp_path / "m.tif")
    assert mask.sum() == 0 and profile["width"] == 20


def test_many_images_read_labels_once(monkeypatch, make_raster, tmp_path):
    import geotile.labels as labels_module

    calls = []
    original = labels_module.read_labels
    monkeypatch.setattr(labels_module, "read_labels",
                        lambda *a, **k: calls.append(a) or original(*a, **k))
    first = make_raster("a.tif", np.zeros((20, 20), np.uint8))
    second = make_raster("b.tif", np.zeros((20, 20), np.uint8),
                         transform=from_origin(X0 + 10, Y0, 0.5, 0.5))
    labels = write_labels(tmp_path / "l.geojson", [square(X0 + 1, Y0 - 1, 2),
                                                    square(X0 + 12, Y0 - 1, 2)])
    make_masks(labels, [first, second], [tmp_path / "out" / "a.tif", tmp_path / "out" / "b.tif"])
    assert len(calls) == 1
    a, b = read(tmp_path / "out" / "a.tif")[0][0], read(tmp_path / "out" / "b.tif")[0][0]
    assert a[2:6, 2:6].all() and a.sum() == 16
    assert b[2:6, 4:8].all() and b.sum() == 16


@pytest.mark.parametrize("band_rows", [1024, 7])
@pytest.mark.parametrize("kind", ["rotated", "sheared", "south-up"])
def test_rotated_sheared_and_south_up_rasters_keep_every_building(
    make_raster, tmp_path, kind, band_rows
):
    """Labels are selected by the envelope of the raster's four corners, not two of them."""
    from rasterio.transform import Affine

    transform = {
        "rotated": Affine.translation(X0, Y0) * Affine.rotation(30) * Affine.scale(0.5, -0.5),
        "sheared": Affine(0.5, 0.3, X0, 0.2, -0.5, Y0),
        "south-up": Affine(0.5, 0, X0, 0, 0.5, Y0),
    }[kind]
    height = width = 40
    image = make_raster("img.tif", np.zeros((height, width), np.uint8), transform=transform)
    # a small building at the centre of each corner pixel block and in the middle
    centres = [transform * (c, r) for c in (3, width / 2, width - 3) for r in (3, height - 3)]
    geometries = [shapely.Point(x, y).buffer(1.2) for x, y in centres]
    labels = write_labels(tmp_path / "l.geojson", geometries)
    make_masks(labels, [image], [tmp_path / "m.tif"], options=MaskOptions(band_rows=band_rows))
    mask = read(tmp_path / "m.tif")[0][0]
    expected = reference_mask(geometries, [1] * len(geometries), transform, height, width)
    assert expected[:8, :8].any() and expected[-8:, -8:].any()
    assert expected[:8, -8:].any() and expected[-8:, :8].any()
    np.testing.assert_array_equal(mask, expected)


def test_masks_are_ignore_255_where_the_image_is_nodata(make_raster, tmp_path):
    pixels = np.full((3, 20, 20), 50, np.uint8)
    pixels[:, :, :5] = 0  # nodata strip on the left
    image = make_raster("img.tif", pixels, nodata=0)
    building = square(X0 + 1, Y0 - 1, 4)  # cols 2..9: half in the nodata strip
    labels = write_labels(tmp_path / "l.geojson", [building])
    options = MaskOptions(channels=("footprint", "boundary"))
    (summary,) = make_masks(labels, [image], [tmp_path / "m.tif"], options=options)
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read()
        assert src.nodata == 255
    expected = reference_mask([building], [1], from_origin(X0, Y0, 0.5, 0.5), 20, 20)
    assert (mask[:, :, :5] == 255).all()
    np.testing.assert_array_equal(mask[0, :, 5:], expected[:, 5:])
    assert mask[0, 2:10, 5:10].all() and set(np.unique(mask[0])) == {0, 1, 255}
    assert summary["ignored_pixels"] == 100 and summary["positive_pixels"] == 40


def test_nan_pixels_of_a_float_image_are_ignored_declared_or_not(make_raster, tmp_path):
    """A float image's NaN gaps are nodata without a declared value too (as tile and
    predict read them): 255 there, never a building a loss would train on NaN for."""
    pixels = np.full((3, 20, 20), 0.3, np.float32)
    pixels[:, 4:7] = np.nan  # rows 4..6, across the building
    pixels[1, 15, 15] = np.nan  # one band's gap
    image = make_raster("float.tif", pixels)
    building = square(X0, Y0, 5)  # rows and cols 0..9
    labels = write_labels(tmp_path / "l.geojson", [building])
    (summary,) = make_masks(labels, [image], [tmp_path / "m.tif"])
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
        assert src.nodata == 255
    assert (mask[4:7] == 255).all() and mask[15, 15] == 255
    assert (mask[:4, :10] == 1).all() and (mask[7:10, :10] == 1).all()
    assert summary["ignored_pixels"] == 61 and summary["positive_pixels"] == 70


@pytest.mark.parametrize(("count", "dtype"), [(4, np.uint8), (5, np.uint8), (2, np.int16)])
def test_alpha_band_is_nodata_and_images_without_nodata_have_none(make_raster, tmp_path,
                                                                   count, dtype):
    """RGBA, and alpha bands GDAL's mask leaves out (RGB+NIR+alpha, int16+alpha: gdalwarp
    -dstalpha's), mark the transparent pixels ignored."""
    from rasterio.enums import ColorInterp

    rgba = np.full((count, 20, 20), 80, dtype)
    rgba[-1] = 255  # opaque (an alpha of 0/80 holds values: an NIR's, no mask)
    rgba[-1, 10:] = 0  # transparent lower half
    image = make_raster("rgba.tif", rgba, photometric="RGB" if count == 4 else "MINISBLACK")
    with rasterio.open(image, "r+") as dst:
        dst.colorinterp = [*([ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                              ColorInterp.undefined][:count - 1]), ColorInterp.alpha]
    plain = make_raster("plain.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 10)])
    make_masks(labels, [image, plain], [tmp_path / "a.tif", tmp_path / "p.tif"])
    with rasterio.open(tmp_path / "a.tif") as src:
        mask = src.read(1)
        assert src.nodata == 255
    assert (mask[10:] == 255).all() and (mask[:10] == 1).all()
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.nodata is None and src.read(1).max() == 1


@pytest.mark.parametrize("band4", ["nir", "alpha"])
def test_rgbn_whose_nir_gdal_flags_alpha_keeps_its_lake(make_raster, tmp_path, band4):
    """A 4-band uint8 RGB+NIR GeoTIFF (band 4 flagged alpha by GDAL's default): NIR 0 over a
    20 x 20 px lake was written 255 (ignore), the water lost to training. Now the ignore
    pixels are those where every band is 0 (the collar), as predict has it; a real 0/255
    alpha band still makes its 0s ignored."""
    # a lake (NIR), or transparent; a collar outside the scene
    stack = rgbn_with_a_lake((40, 40), np.s_[20:40, 10:30], np.s_[:, :4], seed=5,
                             alpha=band4 == "alpha")
    image = make_raster("rgbn.tif", stack)
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 10)])  # 20 x 20 px
    (summary,) = make_masks(labels, [image], [tmp_path / "m.tif"])
    mask = read(tmp_path / "m.tif")[0][0]
    ignored = ~stack.any(axis=0) if band4 == "nir" else stack[3] == 0
    np.testing.assert_array_equal(mask == 255, ignored)
    assert set(np.unique(mask[20:40, 10:30])) == ({0} if band4 == "nir" else {255})
    assert summary["ignored_pixels"] == int(ignored.sum())


@pytest.mark.parametrize("compress", ["deflate", "jpeg"])
def test_a_feathered_alpha_band_still_masks(make_raster, tmp_path, compress):
    """An RGBA whose alpha edge holds partial values (a 0/255 alpha downsampled with
    ``gdal_translate -r average``, a feathered mosaic seam) over an RGB that is not 0 where
    transparent: its alpha was read as an NIR holding values, so make-masks wrote the 400
    transparent px of a 40x40 image as class ids (0 ignored; 400 before the alpha rule),
    as tile counted them data. A band of 0s and 255s but for a seam is a mask again."""
    from geotile.raster import alpha_holds_values

    stack = np.random.default_rng(5).integers(1, 250, (4, 40, 40)).astype(np.uint8)
    stack[3] = 255
    stack[3, 19:40, 9:31] = 128  # the seam: half transparent
    stack[3, 20:40, 10:30] = 0  # transparent
    image = make_raster("rgba.tif", stack, photometric="RGB", alpha="YES", compress=compress)
    with rasterio.open(image) as src:
        assert not alpha_holds_values(src)
        transparent = src.dataset_mask() == 0  # JPEG: the codec's ringing aside, as GDAL
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 10)])  # 20 x 20 px
    make_masks(labels, [image], [tmp_path / "m.tif"])
    mask = read(tmp_path / "m.tif")[0][0]
    np.testing.assert_array_equal(mask == 255, transparent)
    assert transparent.sum() == 400 if compress == "deflate" else transparent.sum() > 300


@pytest.mark.parametrize("nodata", [0, None])
def test_class_255_is_an_error(make_raster, tmp_path, nodata):
    """255 is the masks' ignore value (tile and evaluate skip it), on any image."""
    image = make_raster("img.tif", np.zeros((10, 10), np.uint8), nodata=nodata)
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 2)], cls=[255])
    with pytest.raises(InputError, match=r"l.geojson: class id 255 .*ignore value"):
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("kind", [str, lambda p: p])
def test_a_bare_path_is_one_image(make_raster, tmp_path, kind):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 2)])
    out = tmp_path / "m.tif"
    (summary,) = make_masks(str(labels), kind(image), kind(out))
    assert summary["output"] == str(out) and read(out)[0][0].sum() == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "l.geojson", "m.tif",
                                                          "m.tif.aux.xml"]


def test_images_and_outputs_must_pair_up(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 2)])
    with pytest.raises(InputError, match=r"1 image.*2 outputs"):
        make_masks(labels, [image], [tmp_path / "a.tif", tmp_path / "b.tif"])


def test_masks_are_deflated_without_a_predictor_unless_asked(make_raster, tmp_path):
    """Class ids compress smaller and faster without horizontal differencing."""
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0 + 4, Y0 - 4, 20)])
    make_masks(labels, [image], [tmp_path / "m.tif"])
    make_masks(labels, [image], [tmp_path / "p.tif"], creation_options={"predictor": "2"})
    structures = []
    for name in ("m.tif", "p.tif"):
        with rasterio.open(tmp_path / name) as src:
            structures.append(src.tags(ns="IMAGE_STRUCTURE"))
            assert src.read(1)[10, 10] == 1 and src.read(1)[2, 2] == 0
    assert structures[0]["COMPRESSION"] == "DEFLATE"
    assert structures[0].get("PREDICTOR", "1") == "1"
    assert structures[1]["PREDICTOR"] == "2"


@pytest.mark.parametrize("kinds", ["polygons", "mixed", "lines", "z"])
def test_geojson_dicts_keep_every_coordinate(kinds):
    holed = shapely.box(0.1, 0.2, 10.3, 10.7).difference(shapely.box(2.25, 2.5, 3.125, 3.75))
    geometries = [shapely.box(500000.123456789, 3700000.987654321, 500010.1, 3700010.2), holed]
    if kinds == "mixed":
        geometries += [shapely.MultiPolygon([shapely.box(20, 20, 21, 21), holed]),
                       shapely.Polygon()]
    if kinds == "lines":
        geometries.append(shapely.LineString([(0, 0), (1.5, 2.5)]))
    if kinds == "z":
        geometries.append(shapely.Polygon([(0, 0, 1.5), (1, 0, 2), (1, 1, 2.5), (0, 0, 1.5)]))
    dicts = geojson_dicts(geometries)
    assert len(dicts) == len(geometries)
    for shape, geometry in zip(dicts, geometries, strict=True):
        copy = shapely.geometry.shape(shape)
        assert shapely.equals_exact(copy, geometry, tolerance=0)
        assert np.array_equal(shapely.get_coordinates(copy, include_z=True),
                              shapely.get_coordinates(geometry, include_z=True), equal_nan=True)


@pytest.mark.parametrize("values", ["runs", "each its own", "one"])
def test_burn_shapes_burn_what_each_shape_burns(values):
    """Runs of one class passed as one MultiPolygon burn what the polygons burn one by one
    (rasterize splits MultiPolygons: overlapping footprints of a class are not an even-odd
    hole), in order (the later class wins); empty and multi-part geometries pass as they
    are, with rasterio's own warning for the empty one."""
    from rasterio.features import rasterize

    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 90, (60, 2))
    geometries = [shapely.box(x, y, x + w, y + h) for (x, y), (w, h) in
                  zip(corners, rng.uniform(2, 15, (60, 2)), strict=True)]
    geometries[7] = shapely.box(0, 0, 50, 50).difference(shapely.box(10, 10, 20, 20))
    geometries[20] = shapely.MultiPolygon([shapely.box(60, 60, 70, 70),
                                           shapely.box(65, 65, 80, 80)])
    geometries[33] = shapely.Polygon()
    ids = {"runs": [1 + (i // 7) % 3 for i in range(60)], "each its own": list(range(1, 61)),
           "one": [1] * 60}[values]
    transform = from_origin(0, 100, 0.5, 0.5)
    burnt = []
    for grouped in (False, True):
        parts: list = []
        dicts = geojson_dicts(geometries, parts)
        shapes = burn_shapes(dicts, ids, parts) if grouped else list(zip(dicts, ids, strict=True))
        with pytest.warns(UserWarning, match="Invalid (or empty )?shape"):  # rasterio 1.4, 1.5
            burnt.append(rasterize(shapes, out_shape=(200, 200), transform=transform,
                                   dtype="int32"))
        if grouped and values != "each its own":
            assert len(shapes) < len(dicts)
    assert np.array_equal(*burnt)
    assert len(np.unique(burnt[0])) >= (2 if values == "one" else 4)


@pytest.mark.parametrize("channels", [("footprint", "boundary", "contact"), ("footprint",)])
def test_adjacent_tiles_get_the_whole_scenes_mask(make_raster, tmp_path, channels):
    """A city of adjacent tiles: each tile's mask is the whole scene's mask cut to the tile,
    with boundary and contact computed from the labels beyond the tile's edges (a building
    cut by a tile edge has no boundary along the cut, touching buildings across it keep
    their contact)."""
    rng = np.random.default_rng(21)
    geometries = [square(X0 + x, Y0 - y, s) for x, y, s in rng.uniform(0, 60, (50, 3)) / [1, 1, 5]]
    geometries += [square(X0 + 12, Y0 - 2, 6), square(X0 + 18, Y0 - 2, 6)]  # touch at x = 18
    labels = write_labels(tmp_path / "l.geojson", geometries)
    options = MaskOptions(channels=channels, boundary_width=3, contact_spacing=8)
    whole = make_raster("whole.tif", np.zeros((120, 120), np.uint8))  # 0.5 m pixels
    make_masks(labels, [whole], [tmp_path / "whole_mask.tif"], options=options)
    expected = read(tmp_path / "whole_mask.tif")[0]
    tiles, outputs = [], []
    for row in range(3):
        for col in range(3):  # 40 px tiles: edges at x = 20 m and 40 m, y = -20 m, -40 m
            tiles.append(make_raster(f"t{row}{col}.tif", np.zeros((40, 40), np.uint8),
                                     transform=from_origin(X0 + 20 * col, Y0 - 20 * row,
                                                           0.5, 0.5)))
            outputs.append(tmp_path / "masks" / f"t{row}{col}.tif")
    make_masks(labels, tiles, outputs, options=options)
    for path in outputs:
        row, col = int(path.stem[1]), int(path.stem[2])
        part = expected[:, 40 * row : 40 * row + 40, 40 * col : 40 * col + 40]
        np.testing.assert_array_equal(read(path)[0], part, err_msg=path.name)
    assert expected[0].any() and (len(channels) == 1 or expected[1:].any(axis=(1, 2)).all())


@pytest.mark.parametrize("labels_crs", ["EPSG:4326", "EPSG:3857"])
def test_line_width_is_ground_metres_on_a_web_mercator_raster(run_cli, make_raster, tmp_path,
                                                              labels_crs):
    """At 60 deg N a 0.6 unit EPSG:3857 pixel is 0.3 ground metres: --line-width 6 burns a
    road 20 px wide; it was buffered in Mercator units, 10-11 px (3.3 m on the ground)."""
    from geotile.ground_scale import ground_scales

    x0, y0 = 1_700_000.0, 8_400_000.0
    transform = from_origin(x0, y0, 0.6, 0.6)
    image = make_raster("img.tif", np.zeros((3, 100, 100), np.uint8), crs="EPSG:3857",
                        transform=transform)
    ground = 0.6 * ground_scales("EPSG:3857", x0 + 30, y0 - 30)[1]
    assert ground == pytest.approx(0.3, rel=0.01)
    line = shapely.LineString([(x0, y0 - 30.3), (x0 + 60, y0 - 30.3)])  # row 50.5
    labels = gpd.GeoDataFrame(geometry=[line], crs="EPSG:3857").to_crs(labels_crs)
    labels.to_file(tmp_path / "roads.gpkg")
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", tmp_path / "roads.gpkg", image, "-o", out,
                     "--line-width", 6, "--line-cap", "flat")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        rows = np.flatnonzero(src.read(1)[:, 50])
    assert len(rows) == pytest.approx(6 / ground, abs=1)  # 20 px
    assert rows.min() == pytest.approx(50.5 - 3 / ground, abs=1)


def test_footprint_of_a_sheared_tile_is_the_same_whatever_other_channels(make_raster,
                                                                          tmp_path):
    """Edges through pixel centres of a sheared grid (ties): the footprint band changed by
    14 px when boundary/contact were added (burnt on a grid grown by their halo)."""
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    transform = Affine(0.5, 0.1, 500000, 0.05, -0.5, 4500000)
    image = make_raster("img.tif", np.zeros((150, 200), np.uint8), transform=transform,
                        crs="EPSG:32618")
    x0, y0 = 500000, 4500000
    geometries = [shapely.box(x0 + 10, y0 - 30, x0 + 30, y0 - 10),  # whole metres
                  shapely.Polygon([(x0 + 35, y0 - 10), (x0 + 75, y0 - 20), (x0 + 50, y0 - 60)]),
                  shapely.box(x0 + 60, y0 - 70, x0 + 95, y0 - 40)]
    labels = write_labels(tmp_path / "l.geojson", geometries, crs="EPSG:32618")
    expected = rasterize(geometries, out_shape=(150, 200), transform=transform, dtype="uint8")
    for channels in [("footprint",), ("footprint", "boundary"),
                     ("footprint", "boundary", "contact")]:
        out = tmp_path / f"{len(channels)}.tif"
        make_masks(labels, [image], [out], options=MaskOptions(channels=channels))
        np.testing.assert_array_equal(read(out)[0][0], expected, err_msg=str(channels))


def _four_squares(make_raster, tmp_path, classes):
    """A 10 x 40 px image and four 8 px squares side by side, of field 'cls' ``classes``
    (their centres: mask[4, 4], [4, 14], [4, 24], [4, 34])."""
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    boxes = [square(X0 + 5 * i, Y0, 4) for i in range(4)]
    return image, write_labels(tmp_path / "l.geojson", boxes, cls=classes)


def test_class_values_naming_background_are_burnt_as_background(make_raster, tmp_path):
    """'background' and ISPRS's 'Clutter/background' took positive ids (2 and 1): the mask
    named two categories "background" and counted them as positive pixels."""
    image, labels = _four_squares(make_raster, tmp_path,
                                  ["building", "background", "tree", "Clutter/background"])
    with pytest.warns(GeotileWarning, match=r"l.geojson: 2 features of field 'cls' name "
                      r"background \('background', 'Clutter/background'\).*--class-map"):
        [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = read(tmp_path / "m.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(4)] == [1, 0, 2, 0]
    assert summary["classes"] == ["background", "building", "tree"]
    assert summary["positive_pixels"] == 2 * 64
    # a class map that names them gives them its ids
    with pytest.warns(GeotileWarning, match=r"1 feature of field 'cls' names background "
                      r"\('Clutter/background'\)"):
        make_masks(labels, [image], [tmp_path / "m2.tif"], class_field="cls",
                   class_map={"building": 1, "tree": 2, "background": 3})
    mask = read(tmp_path / "m2.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(4)] == [1, 3, 2, 0]


def test_a_background_feature_drawn_over_a_building_clears_it(make_raster, tmp_path):
    """Features naming background were dropped before burning, so a courtyard drawn later
    inside a building stayed building (2304 positive pixels for 2048) while the warning said
    'burnt as background (0)'. They are burnt as 0 in their order, the later feature winning,
    and the courtyard's edge is a boundary of the building."""
    image = make_raster("img.tif", np.zeros((60, 60), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0 + 5, Y0 - 5, 24),
                                                   square(X0 + 13, Y0 - 13, 8)],
                          cls=["building", "background"])
    with pytest.warns(GeotileWarning, match="burnt as background"):
        [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls",
                               options=MaskOptions(channels=("footprint", "boundary")))
    footprint, boundary = read(tmp_path / "m.tif")[0]
    assert footprint[34, 34] == 0 and footprint[12, 12] == 1  # courtyard, building
    assert summary["positive_pixels"] == 48 * 48 - 16 * 16
    assert boundary[25, 34] == 1 and boundary[34, 34] == 0  # the courtyard's edge


def test_building_type_values_like_other_or_non_residential_stay_classes(make_raster,
                                                                          tmp_path):
    """Only values that say background in so many words are background: OSM-style building
    types 'other', 'unknown' and 'non_residential' are classes (the raster rule for a first
    class name would have made them background)."""
    image, labels = _four_squares(make_raster, tmp_path,
                                  ["house", "other", "unknown", "non_residential"])
    [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = read(tmp_path / "m.tif")[0][0]
    assert sorted(int(mask[4, 10 * i + 4]) for i in range(4)) == [1, 2, 3, 4]
    assert summary["positive_pixels"] == 4 * 64


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_class_value_is_no_value(make_raster, tmp_path, empty):
    """An empty text value became class 1 named '' (SpaceNet's OSM 'name'); it is no value,
    as None is, unless a class map names it."""
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    boxes = [square(X0 + 5 * i, Y0, 4) for i in range(3)]
    labels = write_labels(tmp_path / "l.geojson", boxes, cls=["Occlusion", empty, empty])
    with pytest.raises(InputError, match=r"l.geojson: 2 features have no 'cls' value"):
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    assert not (tmp_path / "m.tif").exists()
    make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls",
               class_map={"Occlusion": 1, "": 2})
    mask = read(tmp_path / "m.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(3)] == [1, 2, 2]


def test_labels_all_naming_background_make_an_empty_mask(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 4), square(X0 + 5, Y0, 4)],
                          cls=["background", "void"])
    with pytest.warns(GeotileWarning) as caught:
        [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    messages = [str(w.message) for w in caught if w.category is GeotileWarning]
    assert len(messages) == 1 and "name background ('background', 'void')" in messages[0]
    assert summary["classes"] == ["background"] and summary["positive_pixels"] == 0
    assert not read(tmp_path / "m.tif")[0].any()


@pytest.mark.parametrize("values, ids", [(["house", "No Data", "NoData", "no_data"], [1, 0, 0, 0]),
                                         (["house", "BG", "RO", "void"], [2, 1, 3, 0])])
def test_class_values_say_background_however_spelt_and_codes_stay_classes(
        make_raster, tmp_path, values, ids):
    """'NoData' was background but 'No Data' and 'no_data' classes; a country code 'BG'
    (Bulgaria, beside 'RO') was background as the short name of one."""
    image, labels = _four_squares(make_raster, tmp_path, values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeotileWarning)
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = read(tmp_path / "m.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(4)] == ids


def test_class_names_and_map_keys_compare_without_case_or_spaces(make_raster, tmp_path):
    """'Building' and 'building' were two classes (1 and 3), and a map's 'low_vegetation'
    did not match 'low vegetation': as vectorize and evaluate, names compare by class_key."""
    image, labels = _four_squares(make_raster, tmp_path,
                                  ["Building", "building", "low vegetation", "Tree"])
    [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = read(tmp_path / "m.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(4)] == [1, 1, 2, 3]
    assert summary["classes"] == ["background", "Building", "low vegetation", "Tree"]
    [summary] = make_masks(labels, [image], [tmp_path / "m2.tif"], class_field="cls",
                           class_map={"building": 1, "Low-Vegetation": 3, "tree": 4})
    mask = read(tmp_path / "m2.tif")[0][0]
    assert [int(mask[4, 10 * i + 4]) for i in range(4)] == [1, 1, 3, 4]
    assert summary["classes"] == ["background", "building", "2", "Low-Vegetation", "tree"]
    with pytest.raises(InputError, match=r"'Building' and 'building' .*one class"):
        make_masks(labels, [image], [tmp_path / "m3.tif"], class_field="cls",
                   class_map={"Building": 1, "building": 2, "low vegetation": 3, "tree": 4})
    assert not (tmp_path / "m3.tif").exists()


@pytest.mark.parametrize("bad", [300, 256, 255, -1, 4.5])
def test_rasterize_labels_refuses_class_ids_a_mask_cannot_hold(bad):
    # 300 and 256 saturated to 255 (the ignore value), -1 to 0 (background), 4.5 to 5
    transform = from_origin(0, 100, 1, 1)
    with pytest.raises(InputError, match=rf"class id {bad} is outside 0\.\.254.*ignore value"):
        rasterize_labels([shapely.box(10, 10, 30, 30), shapely.box(0, 0, 5, 5)], [bad, 1],
                         (100, 100), transform)


def test_rasterize_labels_burns_ids_0_to_254_and_generator_classes():
    transform = from_origin(0, 40, 1, 1)
    options = MaskOptions(channels=("footprint", "boundary"))
    big, small = shapely.box(0, 0, 20, 20), shapely.box(5, 5, 10, 10)
    footprint, boundary = rasterize_labels([big, small], (c for c in [254, 0]), (40, 40),
                                           transform, options)
    assert footprint[30, 2] == 254 and footprint[32, 7] == 0  # class 0 clears what it covers
    assert boundary[32, 4] == 1  # the generator's ids reached the boundary band too


@pytest.mark.parametrize("cap", ["round", "flat"])
def test_rasterize_labels_buffers_lines_by_line_width(cap):
    """MaskOptions(line_width=4) was ignored by rasterize_labels: a 100 m road on a 0.5 m
    grid was burnt 1 px wide (201 px, as without it). Lines are buffered as make_masks
    buffers them: in metres with the raster's crs, else in the transform's units."""
    from rasterio.features import rasterize

    transform = from_origin(X0, Y0, 0.5, 0.5)
    road = shapely.LineString([(X0 + 10, Y0 - 50), (X0 + 110, Y0 - 50)])
    house = shapely.box(X0 + 20, Y0 - 90, X0 + 30, Y0 - 80)
    options = MaskOptions(line_width=4, line_cap=cap)
    expected = rasterize([(road.buffer(2, 16, cap_style=cap), 1), (house, 2)], out_shape=(200, 240),
                         transform=transform, dtype="uint8")
    for crs in (None, UTM_CRS):
        burnt = rasterize_labels([road, house], [1, 2], (200, 240), transform, options, crs=crs)
        np.testing.assert_array_equal(burnt[0], expected)
    assert (expected == 1).sum() == (1600 if cap == "flat" else 1652)  # + a 2 m disc: 50 px
    # a grid in degrees: the buffer in metres with crs, refused without it
    degrees = from_origin(10.0, 0.01, 5e-6, 5e-6)
    line = shapely.LineString([(10.0001, 0.005), (10.0009, 0.005)])
    burnt = rasterize_labels([line], [1], (2000, 240), degrees, options, crs="EPSG:4326")
    rows = np.flatnonzero(burnt[0][:, 120])
    assert len(rows) * 5e-6 * 110_574 == pytest.approx(4, abs=0.6)  # metres across the road
    with pytest.raises(InputError, match=r"rasterize_labels: pixels 5e-06 wide.*degrees.*crs="):
        rasterize_labels([line], [1], (2000, 240), degrees, options)


def test_round_line_ends_and_bends_are_burnt_as_solaris_burns_them():
    """Round caps and joins were drawn with 8 segments a quarter circle (shapely's default),
    their chords missing pixels that solaris' road_mask burns (geopandas' buffer, 16
    segments): 1-3 px of a 100 x 100 px road mask; the help names solaris for round ends."""
    from rasterio.features import rasterize

    transform = from_origin(X0, Y0, 0.5, 0.5)
    road = shapely.LineString([(X0 + 16.185, Y0 - 65.356), (X0 + 63.247, Y0 - 60.385),
                               (X0 + 39.531, Y0 - 94.749)])
    options = MaskOptions(line_width=11.808, line_cap="round")
    expected = rasterize([(gpd.GeoSeries([road]).buffer(5.904)[0], 1)],
                         out_shape=(200, 200), transform=transform, dtype="uint8")
    burnt = rasterize_labels([road], [1], (200, 200), transform, options, crs=UTM_CRS)
    np.testing.assert_array_equal(burnt[0], expected)


def test_rasterize_labels_takes_a_geodataframe_and_whole_float_shapes():
    """A GeoDataFrame (iterated: its column names) raised shapely's 'Please provide only
    Geometry objects', shape (200.0, 240.0) numpy's TypeError: the frame's geometry is
    burnt (its CRS the one line_width is measured in), a whole float shape is that size;
    other things are an InputError in one line."""
    from rasterio.features import rasterize

    transform = from_origin(X0, Y0, 0.5, 0.5)
    houses = [shapely.box(X0 + 10, Y0 - 40, X0 + 30, Y0 - 10), None,
              shapely.box(X0 + 50, Y0 - 90, X0 + 80, Y0 - 50)]
    expected = rasterize([(houses[0], 1), (houses[2], 3)], out_shape=(200, 240),
                         transform=transform, dtype="uint8")
    frame = gpd.GeoDataFrame({"cls": [1, 2, 3]}, geometry=houses, crs=UTM_CRS)
    burnt = rasterize_labels(frame, frame["cls"], (200.0, 240.0), transform)
    np.testing.assert_array_equal(burnt[0], expected)
    degrees = gpd.GeoDataFrame(geometry=[shapely.LineString([(10.0001, 0.005), (10.0009, 0.005)])],
                               crs=4326)
    roads = rasterize_labels(degrees, [1], (2000, 240), from_origin(10.0, 0.01, 5e-6, 5e-6),
                             MaskOptions(line_width=4))
    assert 6 <= roads[0][:, 120].sum() <= 8  # 4 m of 0.55 m rows
    for shape, found in (((200.5, 240), r"\(200.5, 240\)"), ((200,), r"\(200,\)")):
        with pytest.raises(InputError, match=rf"rasterize_labels: shape {found}.*\(rows, col"):
            rasterize_labels(frame, [1, 2, 3], shape, transform)
    with pytest.raises(InputError, match=r"geometries hold a str \('POLYGON.*shapely.from_wkt"):
        rasterize_labels([houses[0].wkt], [1], (200, 240), transform)


def test_rasterize_labels_skips_missing_geometries():
    transform = from_origin(0, 40, 1, 1)
    geometries = gpd.GeoSeries([shapely.box(0, 0, 10, 10), None, shapely.box(20, 20, 30, 30)])
    options = MaskOptions(channels=("footprint", "boundary"))
    footprint, boundary = rasterize_labels(geometries, [1, 2, 3], (40, 40), transform, options)
    expected = reference_mask([geometries[0], geometries[2]], [1, 3], transform, 40, 40)
    np.testing.assert_array_equal(footprint, expected)
    assert boundary.sum() > 0


def test_rasterize_labels_refuses_classes_of_another_length():
    with pytest.raises(InputError, match=r"2 class ids for 3 geometries"):
        rasterize_labels([shapely.box(0, 0, 1, 1)] * 3, [1, 2], (10, 10), from_origin(0, 10, 1, 1))


@pytest.mark.parametrize("name", ["m.png", "m.jpg", "m.vrt", "m"])
def test_make_masks_refuses_output_names_of_other_formats(make_raster, tmp_path, name):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_labels(tmp_path / "l.geojson", [square(X0, Y0, 3)])
    with pytest.raises(InputError, match=rf"{name}: the output is a GeoTIFF; name it .tif or"):
        make_masks(labels, [image, image], [tmp_path / "ok.tif", tmp_path / name])
    assert not (tmp_path / name).exists() and not (tmp_path / "ok.tif").exists()


ORTHO = "+proj=ortho +lat_0=33 +lon_0=-87 +datum=WGS84 +units=m +no_defs"


@pytest.mark.parametrize("image_crs, crs_member, boxes, span", [
    # pixel (col, row) numbers in a GeoJSON without CRS: read as lon/lat, far off a UTM image
    (UTM_CRS, False, [(10, 10, 30, 40), (50, 60, 80, 90)], "(10, 10, 80, 90)"),
    # ... and on the far side of an orthographic image's globe: they project to inf
    (ORTHO, False, [(10, 10, 30, 40), (50, 60, 80, 90)], "(10, 10, 80, 90)"),
    # lon/lat declared, on the other side of the globe: inf too
    (ORTHO, True, [(151.2, -33.87, 151.21, -33.86)], "(151.2, -33.87, 151.21, -33.86)"),
])
def test_labels_no_projection_places_on_the_image_are_named_in_their_own_coordinates(
        make_raster, tmp_path, image_crs, crs_member, boxes, span):
    # was 'labels span (inf, inf, inf, inf)' or the far-off numbers they projected to
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8), crs=image_crs,
                        transform=from_origin(0 if image_crs == ORTHO else X0,
                                              0 if image_crs == ORTHO else Y0, 0.5, 0.5))
    labels = tmp_path / "l.geojson"
    document = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(
            shapely.box(*b))} for b in boxes]}
    if crs_member:
        document["crs"] = {"type": "name", "properties": {"name": "EPSG:4326"}}
    labels.write_text(json.dumps(document))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_masks(labels, [image], [tmp_path / "m.tif"])
    [message] = [str(w.message) for w in caught if issubclass(w.category, GeotileWarning)]
    assert message.startswith(f"{labels}: no feature overlaps img.tif (labels span {span} "
                              "in EPSG:4326, the image ")
    assert "inf" not in message and "nan" not in message
    assert "--labels-crs" in message and "in the image's CRS" in message
    assert read(tmp_path / "m.tif")[0].sum() == 0


def _nad27_grid_missing(x: float, y: float) -> bool:
    """Whether PROJ here lacks the NADCON grid that moves NAD27 UTM 16N near (x, y) to NAD83
    UTM 16N accurately (then it falls back to a ~14 m Helmert through WGS 84)."""
    from pyproj import Transformer
    from pyproj.transformer import AreaOfInterest, TransformerGroup

    lon, lat = Transformer.from_crs("EPSG:26716", "EPSG:4267", always_xy=True).transform(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        group = TransformerGroup("EPSG:26716", "EPSG:26916", always_xy=True,
                                 area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return not group.best_available


def test_nad27_labels_on_a_nad83_image_say_the_datum_shift_is_inexact(make_raster, tmp_path,
                                                                      run_cli):
    """NAD27 UTM labels on a NAD83 UTM image: without the NADCON grid PROJ moves them by a
    Helmert good to 14 m (28 px at 0.5 m) without a word; make-masks and tile --labels say
    so, naming the file, the CRSs, the accuracy and how to get the grid."""
    from pyproj import Transformer

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs="EPSG:26916",
                        transform=from_origin(x0, y0, 0.5, 0.5))
    to_nad27 = Transformer.from_crs("EPSG:26916", "EPSG:26716", always_xy=True)
    square = shapely.transform(shapely.box(x0 + 10, y0 - 30, x0 + 30, y0 - 10),
                               lambda xy: np.column_stack(to_nad27.transform(*xy.T)))
    gpd.GeoDataFrame(geometry=[square], crs="EPSG:26716").to_file(tmp_path / "nad27.gpkg")
    missing = _nad27_grid_missing(x0, y0)
    for result in (run_cli("make-masks", tmp_path / "nad27.gpkg", image, "-o",
                           tmp_path / "mask.tif"),
                   run_cli("tile", image, "-o", tmp_path / "tiles", "--size", "50",
                           "--labels", tmp_path / "nad27.gpkg")):
        assert result.exit_code == 0, result.output
        said = [line for line in result.stderr.splitlines() if "projsync" in line]
        if missing:
            assert len(said) == 1
            assert said[0].startswith("Warning: ")
            assert "nad27.gpkg: moving EPSG:26716 to EPSG:26916 is accurate to" in said[0]
            assert "PROJ_NETWORK=ON" in said[0]
        else:
            assert said == []
    # the mask burns the square where the same transformation puts it (both ways agree)
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert src.read(1)[20:60, 20:60].all() and src.read(1).sum() == 1600


def test_labels_in_the_images_datum_say_nothing_of_grids(make_raster, tmp_path, run_cli):
    """Web Mercator (OSM) labels on a WGS 84 UTM image: the same datum, no warning."""
    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8),
                        transform=from_origin(x0, y0, 0.5, 0.5))
    gpd.GeoDataFrame(geometry=[shapely.box(x0 + 10, y0 - 30, x0 + 30, y0 - 10)],
                     crs=UTM_CRS).to_crs("EPSG:3857").to_file(tmp_path / "osm.gpkg")
    result = run_cli("make-masks", tmp_path / "osm.gpkg", image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4326"])
def test_a_long_straight_edge_is_burnt_where_it_lies_in_the_images_crs(make_raster, tmp_path,
                                                                       crs):
    """A 20 km field of an OSM export (Web Mercator) or lon/lat file on a UTM image: its
    straight top edge is a curve in UTM that passes 3 m (6 px) from the chord between its
    corners; reprojecting the corners only burnt the chord."""
    from pyproj import Transformer

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8),
                        transform=from_origin(x0, y0, 0.5, 0.5))
    there = Transformer.from_crs(UTM_CRS, crs, always_xy=True)
    mx, my = there.transform(x0 + 25, y0 - 25)  # the middle of the edge
    half = 10_000.0 if crs == "EPSG:3857" else 0.1
    field = shapely.box(mx - half, my - half / 2, mx + half, my)
    gpd.GeoDataFrame(geometry=[field], crs=crs).to_file(tmp_path / "field.gpkg")
    make_masks(tmp_path / "field.gpkg", [image], [tmp_path / "mask.tif"])
    back = Transformer.from_crs(crs, UTM_CRS, always_xy=True)
    fine = shapely.segmentize(field, half / 2000)
    true = shapely.transform(fine, lambda xy: np.column_stack(back.transform(*xy.T)))
    expected = reference_mask([true], [1], from_origin(x0, y0, 0.5, 0.5), 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert 45 <= expected[:, 50].argmax() <= 55  # the edge crosses the image's middle
    np.testing.assert_array_equal(mask[0], expected)


def test_lat_lon_labels_say_their_axes_are_swapped(make_raster, tmp_path):
    """EPSG:4326 labels written (latitude, longitude), as some tools do: the warning said only
    'the CRS may be wrong'; it says they are swapped and how to swap them back."""
    from pyproj import Transformer

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.zeros((1, 40, 40), np.uint8),
                        transform=from_origin(x0, y0, 0.5, 0.5))
    to_lonlat = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(square(x0 + 5, y0 - 5, 10),
                               lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
    latlon = shapely.transform(lonlat, lambda xy: xy[:, ::-1])
    gpd.GeoDataFrame(geometry=[latlon], crs="EPSG:4326").to_file(tmp_path / "l.geojson")
    with pytest.warns(GeotileWarning, match=r"no feature overlaps img\.tif.*latitude, "
                      r"longitude.*-t_srs EPSG:4326 -ct '\+proj=axisswap \+order=2,1' "
                      r"fixed\.gpkg .*l\.geojson\)"):
        make_masks(tmp_path / "l.geojson", [image], [tmp_path / "m.tif"])
    # labels simply elsewhere are not called swapped
    gpd.GeoDataFrame(geometry=[shapely.affinity.translate(lonlat, 1.0)],
                     crs="EPSG:4326").to_file(tmp_path / "far.geojson")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_masks(tmp_path / "far.geojson", [image], [tmp_path / "m2.tif"])
    said = " ".join(str(w.message) for w in caught)
    assert "no feature overlaps" in said and "swapped" not in said


def test_lonlat_labels_across_the_antimeridian_are_not_densified_round_the_world(
        make_raster, tmp_path):
    """A 400 m lon/lat field written across 180 (179.998 .. -179.998, as Fiji's files are)
    on a UTM 60S image: its edges between them were split the long way round the world
    (36,000 points), burnt 2573 pixels where the field covers 1868."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32760", always_xy=True).transform(180, -17)
    transform = from_origin(round(x) - 500, round(y) + 500, 10, 10)
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs="EPSG:32760",
                        transform=transform)
    field = shapely.Polygon([(179.998, -17.002), (-179.998, -17.002), (-179.998, -16.998),
                             (179.998, -16.998)])
    gpd.GeoDataFrame(geometry=[field], crs="EPSG:4326").to_file(tmp_path / "f.gpkg")
    make_masks(tmp_path / "f.gpkg", [image], [tmp_path / "mask.tif"])
    there = Transformer.from_crs("EPSG:4326", "EPSG:32760", always_xy=True)
    true = shapely.transform(field, lambda xy: np.column_stack(there.transform(*xy.T)))
    expected = reference_mask([true], [1], transform, 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert 1800 < expected.sum() < 1950
    np.testing.assert_array_equal(mask[0], expected)


@pytest.mark.parametrize("crs", ["EPSG:32760", "EPSG:4326"])
def test_a_concave_lonlat_building_written_across_the_antimeridian_keeps_its_shape(
        make_raster, tmp_path, crs):
    """An L-shaped building with a courtyard written across 180 (179.9997 .. -179.9997, as
    geopandas' to_crs(4326) writes Fiji's buildings): in lon/lat its ring crosses itself, and
    it was repaired there, round the world, before being moved to the image: on a UTM 60S
    image its courtyard was burnt and its corner squared off (231 of 10000 px wrong); on an
    EPSG:4326 tile astride 180 it was burnt as a ring round the world (3000 px wrong)."""
    from pyproj import Transformer

    whole = shapely.Polygon(  # in longitudes past 180: the building as it is on the ground
        [(179.9997, -17.0006), (180.0003, -17.0006), (180.0003, -17.0003), (180.0, -17.0003),
         (180.0, -17.0), (179.9997, -17.0)],
        holes=[[(179.99985, -17.0005), (179.99995, -17.0005), (179.99995, -17.0001),
                (179.99985, -17.0001)]])
    written = shapely.transform(whole, lambda xy: np.column_stack(
        (np.where(xy[:, 0] > 180, xy[:, 0] - 360, xy[:, 0]), xy[:, 1])))
    assert not written.is_valid  # self-intersecting in lon/lat, not on the ground
    gpd.GeoDataFrame(geometry=[written], crs="EPSG:4326").to_file(tmp_path / "b.gpkg")
    there = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = there.transform(180, -17.0003)
    size = 1e-5 if crs == "EPSG:4326" else 1.0
    transform = from_origin(x - 50 * size, y + 50 * size, size, size)
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs=crs,
                        transform=transform)
    make_masks(tmp_path / "b.gpkg", [image], [tmp_path / "mask.tif"])
    true = shapely.transform(whole, lambda xy: np.column_stack(there.transform(*xy.T)))
    expected = reference_mask([true], [1], transform, 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert expected.sum() > 1000
    np.testing.assert_array_equal(mask[0], expected)


@pytest.mark.parametrize("crs, pole", [("EPSG:3031", -90.0), ("EPSG:3413", 90.0)])
def test_a_lonlat_cap_round_the_pole_is_burnt_on_a_polar_stereographic_image(
        make_raster, tmp_path, crs, pole):
    """An ice cap written in lon/lat as polar files write it (-180 .. 180 along the parallel,
    then along the pole) on an EPSG:3031 / 3413 image centred on the pole: it was left
    undensified as if written across 180, its ring collapsed to a slit and the mask had 0 of
    the ~2318 pixels of the 54 km disc."""
    from pyproj import Transformer

    transform = from_origin(-100000, 100000, 2000, 2000)
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs=crs,
                        transform=transform)
    edge = pole - np.sign(pole) * 0.5
    cap = shapely.Polygon([(-180, edge), (180, edge), (180, pole), (-180, pole)])
    gpd.GeoDataFrame(geometry=[cap], crs="EPSG:4326").to_file(tmp_path / "cap.geojson")
    make_masks(tmp_path / "cap.geojson", [image], [tmp_path / "mask.tif"])
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(0, edge)
    disc = shapely.Point(0, 0).buffer(np.hypot(x, y), 256)
    expected = reference_mask([disc], [1], transform, 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert 2250 < expected.sum() < 2400
    assert np.count_nonzero(mask[0] != expected) <= 8  # the disc's polygon vs its parallel


def test_a_lonlat_line_round_the_pole_follows_its_parallel_on_a_polar_image(
        make_raster, tmp_path):
    """A line along 80 N written in lon/lat every 10 degrees from -180 to 180 (a sea-ice
    edge, a graticule) burnt 4 km wide on an EPSG:3413 image: wider than 180 degrees, it was
    taken for one written across 180 and left undensified, so its edges were chords 4.2 km
    inside the parallel: 34 of its 400 pixels at 45 W were burnt, 366 beside it."""
    from pyproj import Transformer

    there = Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True)
    _, y = there.transform(-45, 80)
    transform = from_origin(-50000, round(y) + 50000, 1000, 1000)
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs="EPSG:3413",
                        transform=transform)
    line = shapely.LineString([(lon, 80) for lon in range(-180, 181, 10)])
    gpd.GeoDataFrame(geometry=[line], crs="EPSG:4326").to_file(tmp_path / "edge.gpkg")
    make_masks(tmp_path / "edge.gpkg", [image], [tmp_path / "mask.tif"],
               options=MaskOptions(line_width=4000))
    arc = shapely.transform(shapely.segmentize(line, 0.01),
                            lambda xy: np.column_stack(there.transform(*xy.T)))
    expected = reference_mask([arc.buffer(2000)], [1], transform, 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert 350 < expected.sum() < 450
    assert np.count_nonzero(mask[0] != expected) <= 8


def test_a_lonlat_wedge_across_180_reaching_the_pole_is_not_burnt_as_its_complement(
        make_raster, tmp_path):
    """A 60 degree sector 150 E .. 150 W (across 180) from 89.5 N to the pole on an EPSG:3413
    image: taken for a cap round the pole because it reaches latitude 90, it was densified
    the long way round and its 300 degree complement burnt (1923 px for the 385 px sector)."""
    from pyproj import Transformer

    transform = from_origin(-100000, 100000, 2000, 2000)
    image = make_raster("img.tif", np.zeros((1, 100, 100), np.uint8), crs="EPSG:3413",
                        transform=transform)
    wedge = shapely.Polygon([(150, 89.5), (150, 90), (-150, 90), (-150, 89.5)])
    gpd.GeoDataFrame(geometry=[wedge], crs="EPSG:4326").to_file(tmp_path / "w.geojson")
    make_masks(tmp_path / "w.geojson", [image], [tmp_path / "mask.tif"])
    to_image = Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True)
    sector = shapely.transform(  # the same sector written 150 .. 210, followed as a curve
        shapely.segmentize(shapely.box(150, 89.5, 210, 90), 0.01),
        lambda xy: np.column_stack(to_image.transform(xy[:, 0], xy[:, 1])))
    expected = reference_mask([sector], [1], transform, 100, 100)
    mask, _ = read(tmp_path / "mask.tif")
    assert 350 < expected.sum() < 420
    assert np.count_nonzero(mask[0] != expected) <= 70  # its edges as chords, not arcs


def test_labels_round_a_lonlat_image_near_lon_equals_lat_are_not_called_swapped(make_raster,
                                                                                tmp_path):
    """A lon/lat image near Cairo (31.2 E, 30.0 N) and a country file whose buildings lie
    round it, none on it: their box covers the image either way round, and the warning said
    their coordinates were latitude, longitude (swapped) and to rewrite them."""
    image = make_raster("img.tif", np.zeros((1, 40, 40), np.uint8), crs="EPSG:4326",
                        transform=from_origin(31.2, 30.0, 1e-5, 1e-5))
    far = [shapely.box(29.0, 28.0, 29.001, 28.001), shapely.box(33.0, 32.0, 33.001, 32.001)]
    gpd.GeoDataFrame(geometry=far, crs="EPSG:4326").to_file(tmp_path / "egypt.gpkg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_masks(tmp_path / "egypt.gpkg", [image], [tmp_path / "m.tif"])
    said = " ".join(str(w.message) for w in caught)
    assert "no feature overlaps" in said and "swapped" not in said, said


def test_polygons_of_no_area_in_lonlat_are_placed_to_the_metre(make_raster, tmp_path):
    """A folded sliver in a lon/lat file was placed 'at (13, 53)' (first vertex to the whole
    degree, some 100 km): the place is given to about a metre (13.40112, 52.52834)."""
    image = make_raster("img.tif", np.zeros((1, 40, 40), np.uint8), crs="EPSG:4326",
                        transform=from_origin(13.4, 52.53, 1e-4, 1e-4))
    good = shapely.box(13.4005, 52.5285, 13.4015, 52.5295)
    folded = shapely.Polygon([(13.40112, 52.52834), (13.40212, 52.52934), (13.40212, 52.52934),
                              (13.40112, 52.52834)])
    gpd.GeoDataFrame(geometry=[good, folded], crs="EPSG:4326").to_file(tmp_path / "l.gpkg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_masks(tmp_path / "l.gpkg", [image], [tmp_path / "m.tif"])
    said = " ".join(str(w.message) for w in caught)
    assert "1 polygon has no area" in said and "at (13.40112, 52.52834)" in said, said


@pytest.mark.parametrize("crs", ["EPSG:3413", "EPSG:3031"])
def test_a_polar_disc_is_burnt_on_a_lonlat_image(tmp_path, crs):
    """A 60 km disc round the pole in EPSG:3413 / 3031 (lat beyond 89.446) on a global
    lon/lat image of 1 x 0.25 degree pixels burnt 0 pixels, exit 0 (PROJ gives the ring as
    a zigzag of longitudes enclosing nothing). Now the cap: the two rows nearest the pole,
    720 pixels."""
    north = crs == "EPSG:3413"
    path = tmp_path / "globe.tif"
    top = 90 if north else -80
    with rasterio.open(path, "w", driver="GTiff", width=360, height=40, count=1,
                       dtype="uint8", crs="EPSG:4326",
                       transform=from_origin(-180, top, 1, 0.25)) as dst:
        dst.write(np.ones((1, 40, 360), np.uint8))
    gpd.GeoDataFrame(geometry=[shapely.Point(0, 0).buffer(60000, 64)], crs=crs).to_file(
        tmp_path / "disc.gpkg")
    make_masks(tmp_path / "disc.gpkg", [path], [tmp_path / "mask.tif"])
    with rasterio.open(tmp_path / "mask.tif") as src:
        burnt = src.read(1) > 0
    rows = [0, 1] if north else [38, 39]
    assert burnt.sum() == 720 and burnt[rows].all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_a_lonlat_labels_crs_on_projected_coordinates_names_the_option(tmp_path, run_cli,
                                                                       make_raster, suffix):
    """--labels-crs EPSG:4326 on labels the file declares in UTM said 'although the file
    declares EPSG:4326 (GeoJSON's default)': the file declares EPSG:32633; the message now
    names the option that said lon/lat, in make-masks, tile --labels and evaluate."""
    from .conftest import assert_one_line_error

    image = make_raster("img.tif", np.zeros((3, 32, 32), np.uint8))
    with rasterio.open(image) as src:
        left, top = src.bounds.left, src.bounds.top
    labels = tmp_path / f"utm{suffix}"
    gpd.GeoDataFrame(geometry=[shapely.box(left + 2, top - 10, left + 8, top - 2)],
                     crs=32633).to_file(labels)
    runs = [("make-masks", labels, image, "-o", f"{tmp_path / 'm'}/"),
            ("tile", image, "--labels", labels, "--size", "16", "-o", tmp_path / "t"),
            ("evaluate", labels, labels)]
    for args in runs:
        result = run_cli(*args, "--labels-crs", "EPSG:4326")
        assert_one_line_error(result, labels.name, "--labels-crs EPSG:4326",
                              "not longitude/latitude")
        assert "declares EPSG:4326" not in result.stderr
        assert "GeoJSON's default" not in result.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "t").exists()


@pytest.mark.parametrize("all_touched", [False, True])
def test_geometries_cut_past_the_window_burn_the_same_bands(monkeypatch, all_touched):
    """Random polygons crossing the edges of a grid burnt by bands of 16 rows with a halo,
    as make-masks burns them: cut 2 px past each band (clip_far with CLIP_MARGIN 2), the
    footprint, boundary and contact bands are byte-identical to the uncut polygons' (edges
    at random, not through pixel centres: a cut edge's end is rounded). With the default
    margin none of them is cut."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    grid, height, width, rows = from_origin(X0, Y0, 0.5, 0.5), 64, 40, 16
    import geotile.masks as masks
    from geotile.affine_math import apply

    rng = np.random.default_rng(7)
    cuts = []
    clip_by_rect = shapely.clip_by_rect
    monkeypatch.setattr(shapely, "clip_by_rect",
                        lambda g, *box: cuts.append(len(g)) or clip_by_rect(g, *box))

    def burn(geometries, classes, options):
        halo, bands = options.halo, []
        for top in range(0, height, rows):
            bands.append(rasterize_labels(
                geometries, classes, (rows, width),
                window_transform(Window(0, top, width, rows), grid), options,
                halo_transform=window_transform(
                    Window(-halo, top - halo, width + 2 * halo, rows + 2 * halo), grid),
                grid_transform=grid))
        return np.concatenate(bands, axis=1)

    for _ in range(40):
        polygons = []
        for _ in range(rng.integers(2, 6)):
            n = int(rng.integers(3, 9))
            turns = np.sort(rng.uniform(0, 2 * np.pi, n))
            reach = rng.uniform(1, 30, n) * np.where(rng.random(n) < 0.3,
                                                     rng.uniform(1, 100, n), 1)
            centre = rng.uniform(-10, [width + 10, height + 10])
            ring = centre + reach[:, None] * np.column_stack((np.cos(turns), np.sin(turns)))
            polygons.append(shapely.Polygon(np.column_stack(apply(grid, *ring.T))))
        classes = rng.integers(1, 4, len(polygons)).tolist()
        options = MaskOptions(channels=("footprint", "boundary", "contact"),
                              all_touched=all_touched, boundary_width=int(rng.integers(1, 6)),
                              contact_spacing=int(rng.integers(2, 12)))
        monkeypatch.setattr(masks, "CLIP_MARGIN", 2**40)
        uncut = burn(polygons, classes, options)
        monkeypatch.setattr(masks, "CLIP_MARGIN", 2)
        cut = burn(polygons, classes, options)
        np.testing.assert_array_equal(cut, uncut)
    assert sum(cuts) > 100 and uncut.any(axis=(1, 2)).all()
    cuts.clear()
    monkeypatch.undo()
    monkeypatch.setattr(shapely, "clip_by_rect",
                        lambda g, *box: cuts.append(len(g)) or clip_by_rect(g, *box))
    burn(polygons, classes, options)
    assert not cuts


def test_a_zero_length_lonlat_line_is_burnt_beside_the_others(run_cli, make_raster,
                                                               tmp_path):
    """An OpenStreetMap way of one node (two equal points: LINESTRING (x y, x y)), alone or
    as a part of a MultiLineString, in lon/lat on a UTM image: make-masks --line-width ended
    in a traceback (GEOSException: 'point array must contain 0 or >1 elements', from
    densifying it before reprojecting); now the roads are burnt as without it."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    x0, y0 = UTM_ORIGIN
    road = shapely.LineString([(x0, y0 - 10), (x0 + 50, y0 - 10)])
    lonlat = shapely.transform(road, lambda xy: np.column_stack(to_ll.transform(*xy.T)))
    point = lonlat.interpolate(0.5, normalized=True)
    stub = shapely.LineString([point, point])  # on the road: burns nothing of its own
    image = make_raster("img.tif", np.zeros((1, 40, 100), np.uint8))
    masks = {}
    for name, shapes in (("road", [lonlat]), ("stub", [lonlat, stub]),
                         ("parts", [shapely.MultiLineString([lonlat, stub])])):
        gpd.GeoDataFrame(geometry=shapes, crs="EPSG:4326").to_file(tmp_path / f"{name}.gpkg")
        result = run_cli("make-masks", tmp_path / f"{name}.gpkg", image, "-o",
                         tmp_path / f"{name}.tif", "--line-width", 2)
        assert result.exit_code == 0, result.output
        masks[name], _ = read(tmp_path / f"{name}.tif")
    assert masks["road"].sum() >= 100 * 4
    np.testing.assert_array_equal(masks["stub"], masks["road"])
    np.testing.assert_array_equal(masks["parts"], masks["road"])
