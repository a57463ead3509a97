"""make-masks' burn pinned pixel by pixel: each test kills a hand-made mutant of the burn
core (geotile.masks, label_set, labelme_labels, affine_math) that the other tests let
survive; the right answer is computed independently in the test (by hand, or by the
pixel-centre rule over the grid's centres with shapely.contains_xy)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from geotile.errors import GeotileWarning
from geotile.masks import MaskOptions, make_masks, rasterize_labels

from .conftest import UTM_CRS, UTM_ORIGIN
from .test_masks import read, write_labels

X0, Y0 = UTM_ORIGIN
CHANNELS = ("footprint", "boundary", "contact")


def centres(transform, rows, cols, pad=0):
    """Map x, y of the centres of a (rows + 2 pad) x (cols + 2 pad) grid starting ``pad`` px
    before ``transform``'s origin, computed from the coefficients (not affine's operator)."""
    c, r = np.meshgrid(np.arange(-pad, cols + pad) + 0.5, np.arange(-pad, rows + pad) + 0.5)
    a, b, x0, d, e, y0 = transform[:6]
    return a * c + b * r + x0, d * c + e * r + y0


def reference_ids(geometries, values, transform, rows, cols, pad=0, touched=False):
    """The last of ``values`` whose geometry holds each pixel's centre (``touched``: whose
    interior meets the pixel's square), on the grid grown by ``pad`` px each side."""
    out = np.zeros((rows + 2 * pad, cols + 2 * pad), np.int64)
    xs, ys = centres(transform, rows, cols, pad)
    if touched:
        a, b, x0, d, e, y0 = transform[:6]
        squares = np.empty(out.shape, dtype=object)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                c, r = j - pad, i - pad
                corners = [(c, r), (c + 1, r), (c + 1, r + 1), (c, r + 1)]
                squares[i, j] = shapely.Polygon(
                    [(a * u + b * v + x0, d * u + e * v + y0) for u, v in corners])
    for geometry, value in zip(geometries, values, strict=True):
        hit = (shapely.intersects(geometry, squares) if touched
               else shapely.contains_xy(geometry, xs, ys))
        out[hit] = value
    return out


def reference_boundary(instances, width):
    """1 where the (2r+1)-square round a pixel (r = max(1, width // 2)) holds two ids."""
    r = max(1, width // 2)
    rows, cols = instances.shape
    out = np.zeros(instances.shape, np.uint8)
    for i in range(r, rows - r):
        for j in range(r, cols - r):
            out[i, j] = len(np.unique(instances[i - r:i + r + 1, j - r:j + r + 1])) > 1
    return out


def reference_contact(instances, spacing):
    """1 on a background pixel with two different buildings at dx*dx + dy*dy <= (s/2)^2."""
    radius = spacing / 2
    reach = int(np.ceil(radius))
    rows, cols = instances.shape
    out = np.zeros(instances.shape, np.uint8)
    for i in range(reach, rows - reach):
        for j in range(reach, cols - reach):
            if instances[i, j]:
                continue
            seen = {int(instances[i + dy, j + dx]) for dy in range(-reach, reach + 1)
                    for dx in range(-reach, reach + 1) if dx * dx + dy * dy <= radius * radius}
            out[i, j] = len(seen - {0}) >= 2
    return out


def reference_bands(geometries, classes, transform, rows, cols, options, pad=12):
    """The three channels of the whole scene round the grid (features beyond its edges
    included), computed on a grid ``pad`` px wider each side, then cut to the grid."""
    touched = options.all_touched
    footprint = reference_ids(geometries, classes, transform, rows, cols, pad, touched)
    numbers = [i if c else 0 for i, c in enumerate(classes, start=1)]
    instances = reference_ids(geometries, numbers, transform, rows, cols, pad, touched)
    inner = (slice(pad, pad + rows), slice(pad, pad + cols))
    return np.stack([footprint[inner],
                     reference_boundary(instances, options.boundary_width)[inner],
                     reference_contact(instances, options.contact_spacing)[inner]])


def write_image(path, rows, cols, transform, nodata=None, pixels=None):
    data = np.full((1, rows, cols), 7, np.uint8) if pixels is None else pixels
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="uint8", crs=UTM_CRS, transform=transform, nodata=nodata) as dst:
        dst.write(data)
    return path




def scattered_buildings(transform, rows, cols, seed, count=45, reach=6):
    """Quadrilaterals of random size and turn (corners off every pixel centre and edge),
    some beyond the grid's edges by up to ``reach`` px, some touching each other."""
    rng = np.random.default_rng(seed)
    a, b, x0, d, e, y0 = transform[:6]
    shapes = []
    for _ in range(count):
        c, r = rng.uniform(-reach, cols + reach), rng.uniform(-reach, rows + reach)
        w, h = rng.uniform(1.3, 6.7, 2)
        turn = rng.uniform(0, np.pi / 2)
        corners = [(c + np.cos(turn) * u - np.sin(turn) * v,
                    r + np.sin(turn) * u + np.cos(turn) * v)
                   for u, v in ((0, 0), (w, 0), (w, h), (0, h))]
        shapes.append(shapely.Polygon([(a * u + b * v + x0, d * u + e * v + y0)
                                       for u, v in corners]))
    # two buildings sharing an edge: different instances, one outline between them
    c, r = cols / 2 + 0.37, rows / 2 + 0.21
    for dc in (0.0, 4.0):
        box = [(c + dc, r), (c + dc + 4, r), (c + dc + 4, r + 3.3), (c + dc, r + 3.3)]
        shapes.append(shapely.Polygon([(a * u + b * v + x0, d * u + e * v + y0)
                                       for u, v in box]))
    return shapes


GRIDS = {
    "north-up": Affine(0.5, 0, X0, 0, -0.5, Y0),
    "south-up": Affine(0.5, 0, X0, 0, 0.5, Y0),
    "sheared": Affine(0.5, 0.2, X0, 0, -0.5, Y0),  # rows lean: b only
    # turned 25 degrees: x = X0 + 0.5 (cos t col + sin t row), y = Y0 + 0.5 (sin t col - cos t row)
    "rotated": Affine(0.5 * np.cos(0.4363), 0.5 * np.sin(0.4363), X0,
                      0.5 * np.sin(0.4363), -0.5 * np.cos(0.4363), Y0),
}


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize(("width", "spacing", "touched"), [(3, 5, False), (4, 6, True)])
def test_channels_of_a_band_split_tile_are_the_whole_scenes(tmp_path, grid, width, spacing,
                                                            touched):
    """Footprint (classes, later on top, class 0 clearing), boundary and contact of a tile
    burnt in 5-row bands equal an independent reference computed on the scene round the
    tile: features beyond its edges, within the halo, shape its boundary and contact
    pixels, on north-up, south-up and rotated grids, with and without --all-touched."""
    transform, rows, cols = GRIDS[grid], 23, 19
    shapes = scattered_buildings(transform, rows, cols, seed=len(grid) + width)
    classes = [(i % 3) for i in range(len(shapes))]  # 0: a feature clearing what it covers
    classes[-2:] = [1, 1]
    image = write_image(tmp_path / "img.tif", rows, cols, transform)
    names = ["background", "house", "shed"]  # ids 0 (named background), 1, 2
    labels = write_labels(tmp_path / "l.gpkg", shapes, kind=[names[c] for c in classes])
    options = MaskOptions(channels=CHANNELS, boundary_width=width, contact_spacing=spacing,
                          all_touched=touched, band_rows=5)
    with pytest.warns(GeotileWarning, match="burnt as background"):
        summary, = make_masks(labels, [image], [tmp_path / "m.tif"], options=options,
                              class_field="kind")
    mask, profile = read(tmp_path / "m.tif")
    with rasterio.open(tmp_path / "m.tif") as src:  # the ids' names, by id
        assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == names == summary["classes"]
    expected = reference_bands(shapes, classes, transform, rows, cols, options)
    assert profile["transform"] == transform and profile["nodata"] is None
    if grid == "north-up":  # the features on the tile itself, not those in the halo alone
        tile = shapely.box(X0, Y0 - rows / 2, X0 + cols / 2, Y0)
        assert 0 < summary["features"] == shapely.intersects(shapes, tile).sum() < len(shapes)
    assert (expected[0] == 2).any() and expected[1].any() and expected[2].any()
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundary_alone_sees_buildings_beyond_the_tile(tmp_path, width):
    """--channels boundary on its own (its halo alone: no contact's to lean on): a building
    just past the tile's edge makes the outline pixels inside it, width 1 (r = 1) too."""
    transform, rows, cols = GRIDS["north-up"], 17, 15
    shapes = scattered_buildings(transform, rows, cols, seed=width, count=30, reach=3)
    image = write_image(tmp_path / "img.tif", rows, cols, transform)
    labels = write_labels(tmp_path / "l.gpkg", shapes)
    options = MaskOptions(channels=("boundary",), boundary_width=width, band_rows=4)
    make_masks(labels, [image], [tmp_path / "m.tif"], options=options)
    expected = reference_bands(shapes, [1] * len(shapes), transform, rows, cols,
                               MaskOptions(channels=CHANNELS, boundary_width=width))[1]
    edges = np.concatenate([expected[0], expected[-1], expected[:, 0], expected[:, -1]])
    assert edges.sum() > 4
    np.testing.assert_array_equal(read(tmp_path / "m.tif")[0][0], expected)


def test_a_region_to_ignore_is_255_in_every_band_and_background_to_the_others():
    """A feature of class 255 (COCO's crowd, Labelme's __ignore__) on top is 255 in the
    footprint, boundary and contact bands alike; to the other features' boundary and
    contact it is background: no outline round it, no contact across the gap to it."""
    transform, rows, cols = Affine(1, 0, 0, 0, -1, 30), 30, 30
    shapes = scattered_buildings(transform, rows, cols, seed=11, count=25, reach=0)
    classes = [255 if i % 4 == 0 else 1 + i % 3 for i in range(len(shapes))]
    options = MaskOptions(channels=CHANNELS, boundary_width=2, contact_spacing=6)
    bands = rasterize_labels(shapes, classes, (rows, cols), transform, options,
                             ignore_ok=True)
    instances = reference_ids(shapes, [i if c != 255 else 0 for i, c in
                                       enumerate(classes, start=1)], transform, rows, cols, 3)
    footprint = reference_ids(shapes, classes, transform, rows, cols)
    inner = (slice(3, 3 + rows), slice(3, 3 + cols))
    expected = np.stack([footprint, reference_boundary(instances, 2)[inner],
                         reference_contact(instances, 6)[inner]]).astype(np.uint8)
    expected[:, footprint == 255] = 255
    # without a halo the bands see nothing past the edges: compare the inner pixels
    assert (expected[0] == 255).sum() > 10 and expected[1].any() and expected[2].any()
    np.testing.assert_array_equal(bands[:, 3:-3, 3:-3], expected[:, 3:-3, 3:-3])


def test_nodata_pixels_are_255_in_every_band_and_declared(tmp_path):
    """Where the image is nodata each band of the mask is 255 (declared as its nodata);
    elsewhere the bands are the reference's."""
    transform, rows, cols = GRIDS["north-up"], 21, 18
    pixels = np.full((1, rows, cols), 9, np.uint8)
    pixels[0, 4:9, :] = 0
    pixels[0, :, 13:] = 0
    image = write_image(tmp_path / "img.tif", rows, cols, transform, nodata=0, pixels=pixels)
    shapes = scattered_buildings(transform, rows, cols, seed=4, count=30, reach=2)
    labels = write_labels(tmp_path / "l.gpkg", shapes)
    options = MaskOptions(channels=CHANNELS, boundary_width=2, contact_spacing=4, band_rows=6)
    summary, = make_masks(labels, [image], [tmp_path / "m.tif"], options=options)
    mask, profile = read(tmp_path / "m.tif")
    expected = reference_bands(shapes, [1] * len(shapes), transform, rows, cols, options)
    expected[:, pixels[0] == 0] = 255
    assert summary["positive_pixels"] == np.count_nonzero(expected[0] == 1)
    assert summary["ignored_pixels"] == np.count_nonzero(pixels[0] == 0)
    assert profile["nodata"] == 255 and expected[1:].max(axis=(1, 2)).tolist() == [255, 255]
    assert (expected[1:] == 1).any(axis=(1, 2)).all()
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("cap", ["round", "flat"])
def test_lines_burn_the_pixels_within_half_the_line_width(tmp_path, cap):
    """--line-width W: a pixel is burnt when its centre lies within W/2 of the line (flat
    caps: and beside it, not past its ends), distances computed point by point; a road
    just outside the tile whose width reaches into it is read and burnt too."""
    transform, rows, cols = GRIDS["north-up"], 24, 30
    a, _, x0, _, e, y0 = transform[:6]
    # pixel coordinates: a bent road inside, one running 1.3 px past the left edge
    paths = [[(3.17, 4.3), (20.21, 4.3), (20.21, 17.77)], [(-1.3, 2.13), (-1.3, 21.2)]]
    lines = [shapely.LineString([(x0 + a * c, y0 + e * r) for c, r in p]) for p in paths]
    image = write_image(tmp_path / "img.tif", rows, cols, transform)
    labels = write_labels(tmp_path / "roads.gpkg", lines)
    width = 3.0  # metres: 6 px, half of it 3 px
    make_masks(labels, [image], [tmp_path / "m.tif"],
               options=MaskOptions(line_width=width, line_cap=cap))
    xs, ys = centres(transform, rows, cols)
    points = shapely.points(xs, ys)
    expected = np.zeros((rows, cols), bool)
    for line, path in zip(lines, paths, strict=True):
        near = shapely.distance(line, points)
        assert not (np.abs(near - width / 2) < 0.005).any()  # no centre on the outline
        inside = near <= width / 2
        if cap == "flat":  # not past either end along the road
            (c0, r0), (c1, r1) = path[0], path[-1]
            first = np.where(r0 == path[1][1], (xs - (x0 + a * c0)) * np.sign(path[1][0] - c0),
                             (ys - (y0 + e * r0)) * np.sign(e * (path[1][1] - r0)))
            last = np.where(r1 == path[-2][1], (xs - (x0 + a * c1)) * np.sign(c1 - path[-2][0]),
                            (ys - (y0 + e * r1)) * np.sign(e * (r1 - path[-2][1])))
            inside &= (first >= 0) & (last <= 0)
        expected |= inside
    assert expected[:, 0].sum() > 10  # the road beyond the edge reaches in
    np.testing.assert_array_equal(read(tmp_path / "m.tif")[0][0], expected.astype(np.uint8))


def test_a_lonlat_feature_touching_180_from_the_other_side_is_not_on_the_tile(tmp_path):
    """A lon/lat tile starting at -180 and a feature ending at +180 (the same meridian, the
    other way round): moved 360 degrees it only touches the tile's west edge, so it is not
    one of the tile's features; one reaching past 180 is, and burns its pixels."""
    transform = Affine(0.001, 0, -180.0, 0, -0.001, 10.0)
    image = tmp_path / "img.tif"
    with rasterio.open(image, "w", driver="GTiff", width=10, height=10, count=1,
                       dtype="uint8", crs="EPSG:4326", transform=transform) as dst:
        dst.write(np.full((1, 10, 10), 7, np.uint8))
    touching = shapely.box(179.99, 9.992, 180.0, 9.998)
    past = shapely.box(179.99, 9.992, 180.0023, 9.998)  # 2.3 px onto the tile
    for name, shape, count in (("touch", touching, 0), ("past", past, 1)):
        labels = write_labels(tmp_path / f"{name}.geojson", [shape], crs="EPSG:4326")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeotileWarning)  # no feature overlaps it
            summary, = make_masks(labels, [image], [tmp_path / f"{name}.tif"])
        expected = np.zeros((10, 10), np.uint8)
        expected[2:8, :2] = count  # rows 9.998..9.992: 2..7; columns -180..-179.9977: 0, 1
        assert summary["features"] == count
        np.testing.assert_array_equal(read(tmp_path / f"{name}.tif")[0][0], expected)


@pytest.mark.parametrize("kind", ["3d", "collection"])
def test_later_features_win_whatever_their_geometry_type(kind):
    """Overlapping features of different classes burn later on top also when they are not
    all 2-D Polygons (polygons with z, a GeometryCollection among them: the shapes that go
    to rasterize one by one)."""
    transform, rows, cols = Affine(1, 0, 0, 0, -1, 25), 25, 25
    shapes = scattered_buildings(transform, rows, cols, seed=8, count=30, reach=0)
    if kind == "3d":
        shapes = list(shapely.force_3d(shapes, 4.0))
    else:
        shapes[3] = shapely.GeometryCollection([shapes[3]])
    classes = [1 + i % 4 for i in range(len(shapes))]
    footprint = rasterize_labels(shapes, classes, (rows, cols), transform)[0]
    expected = reference_ids(shapes, classes, transform, rows, cols)
    first_on_top = reference_ids(shapes[::-1], classes[::-1], transform, rows, cols)
    assert (expected != first_on_top).sum() > 5
    np.testing.assert_array_equal(footprint, expected)


def _labelme_file(path, shapes, width, height):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "a.tif",
        "imageData": None, "imageHeight": height, "imageWidth": width}))


@pytest.mark.parametrize("grid", ["rotated", "sheared", "south-up"])
@pytest.mark.parametrize("touched", [False, True])
def test_labelme_shapes_land_on_their_pixels_whatever_the_geotransform(tmp_path, grid,
                                                                       touched):
    """Labelme shapes are drawn in the image's pixels and placed through its geotransform:
    on a rotated, sheared or south-up GeoTIFF the mask holds exactly the pixels whose
    centre (in pixel coordinates) lies inside each polygon, and exactly a mask shape's PNG
    pixels, --all-touched or not (its outlines lie inside its pixels' edges)."""
    import base64
    import io

    from PIL import Image

    rows, cols = 20, 24
    (tmp_path / "images").mkdir()
    image = write_image(tmp_path / "images" / "a.tif", rows, cols, GRIDS[grid])
    polygon = [[2.3, 1.7], [15.6, 3.2], [11.1, 12.8], [3.4, 9.9]]
    png = np.zeros((4, 5), np.uint8)
    png[[0, 1, 1, 2, 3, 3], [1, 0, 1, 2, 3, 4]] = 1
    buffer = io.BytesIO()
    Image.fromarray(png).save(buffer, format="PNG")
    shapes = [{"label": "house", "points": polygon, "group_id": None, "shape_type": "polygon",
               "flags": {}, "mask": None},
              {"label": "tank", "points": [[17.0, 14.0], [21.0, 17.0]], "group_id": None,
               "shape_type": "mask", "flags": {},
               "mask": base64.b64encode(buffer.getvalue()).decode()}]
    _labelme_file(tmp_path / "labels" / "a.json", shapes, cols, rows)
    make_masks(tmp_path / "labels", [image], [tmp_path / "m.tif"],
               options=MaskOptions(all_touched=touched))
    c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    expected = np.zeros((rows, cols), np.uint8)
    if touched:
        squares = [[shapely.box(j, i, j + 1, i + 1) for j in range(cols)] for i in range(rows)]
        expected[shapely.intersects(shapely.Polygon(polygon), np.array(squares))] = 1
    else:
        expected[shapely.contains_xy(shapely.Polygon(polygon), c, r)] = 1
    expected[14:18, 17:22][png == 1] = 2  # house 1, tank 2 (by sorted name)
    np.testing.assert_array_equal(read(tmp_path / "m.tif")[0][0], expected)


def test_chain_is_the_matrix_product_for_turned_and_sheared_transforms():
    """chain(outer, inner) is outer @ inner as 3x3 matrices, every coefficient (b and d of
    a turned or sheared inner transform included)."""
    from geotile.affine_math import apply, chain

    outer = Affine(0.5, 0.2, 740000.0, -0.1, -0.5, 3735000.0)
    inner = Affine(0.9, 0.3, -4.0, 0.4, 1.1, 7.0)
    product = np.array([[*outer[:3]], [*outer[3:6]], [0, 0, 1]]) @ np.array(
        [[*inner[:3]], [*inner[3:6]], [0, 0, 1]])
    np.testing.assert_allclose(chain(outer, inner)[:6], product[:2].ravel(), rtol=1e-15)
    x, y = apply(inner, 3.0, -2.0)
    np.testing.assert_allclose(apply(chain(outer, inner), 3.0, -2.0), apply(outer, x, y),
                               rtol=1e-15)


def test_without_a_halo_a_building_running_past_the_edge_has_no_outline_there():
    """rasterize_labels without halo_transform sees nothing past the grid: a building that
    runs on past the edges gets no outline along them (its last row and column repeat), as
    the whole scene's boundary has none there."""
    transform, rows, cols = Affine(1, 0, 0, 0, -1, 16), 16, 18
    shapes = [shapely.box(-5, 3.3, 7.6, 21), shapely.box(11.2, -4, 25, 9.7)]
    options = MaskOptions(channels=("boundary",), boundary_width=4)
    boundary = rasterize_labels(shapes, [1, 1], (rows, cols), transform, options)[0]
    expected = reference_bands(shapes, [1, 1], transform, rows, cols,
                               MaskOptions(channels=CHANNELS, boundary_width=4))[1]
    assert expected[:, 5:10].any() and not expected[:10, :2].any()  # left, top: inside
    np.testing.assert_array_equal(boundary, expected)
