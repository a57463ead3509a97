"""Vector labels in each image's pixel coordinates given with a georeferenced image
(SpaceNet 7's labels_match_pix/): --labels-crs pixels places them through the image's
geotransform; without it, such a GeoJSON (read as lon/lat) is refused where its coordinates
cannot be degrees, and warned of where it burns the tile whole as big separate lon/lat
polygons (islands, lakes, countries) would: those are never refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import assert_one_line_error, write_raster

#: a 100x100 tile, 10 m pixels, in UTM 32N near (9.0 E, 45.15 N): inside the 20-degree
#: square a 20-pixel building at (0, 40) becomes when read as lon/lat
CRS = "EPSG:32632"
TRANSFORM = from_origin(500000, 5000000, 10, 10)
#: buildings in pixels (x right, y down from the top-left corner of the top-left pixel)
BUILDINGS = [shapely.box(0, 40, 20, 60), shapely.box(30, 10, 50, 30),
             shapely.Polygon([(60, 60), (95, 62), (70, 90)])]


def _geojson(path, geometries, crs=None, properties=None):
    features = [{"type": "Feature", "properties": (properties or [{}] * len(geometries))[i],
                 "geometry": json.loads(shapely.to_geojson(g))}
                for i, g in enumerate(geometries)]
    document = {"type": "FeatureCollection", "features": features}
    if crs:
        document["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(document))
    return path


def _to_map(geometries, transform):
    from geotile.spacenet import pixel_to_map

    return list(pixel_to_map(geometries, transform))


def _to_lonlat(geometries, crs=CRS):
    from pyproj import Transformer

    move = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform
    return [shapely.transform(g, lambda xy: np.column_stack(move(xy[:, 0], xy[:, 1])))
            for g in geometries]


@pytest.fixture
def tile(tmp_path):
    return write_raster(tmp_path / "tile.tif", np.ones((1, 100, 100), np.uint8), crs=CRS,
                        transform=TRANSFORM)


def _mask(path):
    with rasterio.open(path) as src:
        return src.read(1)


def test_pixel_labels_burn_as_the_same_polygons_in_map_coordinates(run_cli, tile, tmp_path):
    pixels = _geojson(tmp_path / "sn7_match_pix.geojson", BUILDINGS)
    mapped = _geojson(tmp_path / "map.geojson", _to_map(BUILDINGS, TRANSFORM), CRS)
    result = run_cli("make-masks", pixels, tile, "-o", tmp_path / "m.tif",
                     "--labels-crs", "pixels")
    assert result.exit_code == 0, result.output
    assert run_cli("make-masks", mapped, tile, "-o", tmp_path / "ref.tif").exit_code == 0
    mask, reference = _mask(tmp_path / "m.tif"), _mask(tmp_path / "ref.tif")
    np.testing.assert_array_equal(mask, reference)
    assert mask[40:60, 0:20].all() and mask[10:30, 30:50].all()  # rows = y, columns = x
    assert mask[:10].sum() == 0 and mask[10:30, 50:60].sum() == 0
    assert mask[40:60, :20].sum() + mask[10:30, 30:50].sum() == 800
    with rasterio.open(tmp_path / "m.tif") as src:  # the image's grid and CRS
        assert src.crs == rasterio.crs.CRS.from_string(CRS) and src.transform == TRANSFORM


def test_each_image_places_them_through_its_own_grid(run_cli, tmp_path):
    """Non-square pixels, another origin, a GeoPackage that declares a (wrong) CRS: the
    option says pixels whatever the file says."""
    import geopandas as gpd

    transform = from_origin(731000.5, 3721000.25, 0.3, 0.6)
    image = write_raster(tmp_path / "img.tif", np.ones((1, 80, 120), np.uint8),
                         crs="EPSG:32616", transform=transform)
    pixels = tmp_path / "pix.gpkg"
    gpd.GeoDataFrame(geometry=BUILDINGS, crs="EPSG:4326").to_file(pixels)
    mapped = _geojson(tmp_path / "map.geojson", _to_map(BUILDINGS, transform), "EPSG:32616")
    assert run_cli("make-masks", pixels, image, "-o", tmp_path / "m.tif", "--labels-crs",
                   "PIXELS").exit_code == 0
    assert run_cli("make-masks", mapped, image, "-o", tmp_path / "ref.tif").exit_code == 0
    mask = _mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _mask(tmp_path / "ref.tif"))
    assert mask[10:30, 30:50].all() and mask.sum() > 1000


def test_pixel_geojson_read_as_lonlat_that_burns_the_tile_whole_warns(run_cli, tile,
                                                                     tmp_path):
    """Every 20-pixel building a 20-degree polygon, one round the tile: burnt whole, as
    islands or countries in lon/lat would be (nothing tells them apart), with a warning
    naming the option."""
    pixels = _geojson(tmp_path / "sn7_match_pix.geojson", BUILDINGS)
    result = run_cli("make-masks", pixels, tile, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 1, result.stderr
    for fragment in ("sn7_match_pix.geojson", "one of its 3 separate polygons",
                     "covers it whole", "tile.tif's 100x100 pixels", "--labels-crs pixels"):
        assert fragment in lines[0], lines[0]


def test_coordinates_beyond_lonlat_within_the_image_say_pixels(run_cli, tmp_path):
    image = write_raster(tmp_path / "big.tif", np.ones((1, 300, 400), np.uint8), crs=CRS,
                         transform=TRANSFORM)
    pixels = _geojson(tmp_path / "pix.geojson", [shapely.box(200, 150, 220, 290)])
    result = run_cli("make-masks", pixels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "pix.geojson", "coordinates like (200, 150)",
                          "are not longitude/latitude", "big.tif's 400x300 pixels",
                          "--labels-crs pixels")
    assert not (tmp_path / "m.tif").exists()
    # beyond the image's pixels too (UTM metres written without a CRS): no talk of pixels
    metres = _geojson(tmp_path / "utm.geojson", _to_map(BUILDINGS, TRANSFORM))
    result = run_cli("make-masks", metres, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "utm.geojson", "are not longitude/latitude",
                          "Pass --labels-crs with the CRS")
    assert "pixels" not in result.stderr


def _burnt(run_cli, labels, image, tmp_path):
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--overwrite")
    assert result.exit_code == 0, result.output
    return _mask(tmp_path / "m.tif")


def test_lonlat_labels_are_never_taken_for_pixels(run_cli, tile, tmp_path):
    """Real lon/lat labels whose coordinates fit 0..100 (northern Italy): buildings, fields,
    one country polygon round the tile, regions sharing borders, many small OSM features."""
    lonlat = _to_lonlat(_to_map(BUILDINGS, TRANSFORM))
    buildings = _geojson(tmp_path / "buildings.geojson", lonlat)
    assert _burnt(run_cli, buildings, tile, tmp_path).sum() == pytest.approx(800 + 515, abs=30)
    # fields: a few hectares each, the tile split in two
    fields = _to_lonlat([shapely.box(500000, 4999000, 500500, 5000000),
                         shapely.box(500500, 4999000, 501000, 5000000)])
    mask = _burnt(run_cli, _geojson(tmp_path / "fields.geojson", fields, None,
                                    [{"c": 1}, {"c": 2}]), tile, tmp_path)
    assert mask.sum() == 10000
    # one country round the tile (Italy's box, as a polygon): the whole tile is land
    country = _geojson(tmp_path / "italy.geojson", [shapely.box(6.6, 36.6, 18.5, 47.1)])
    assert _burnt(run_cli, country, tile, tmp_path).sum() == 10000
    # regions sharing borders, each thousands of times the tile: one holds it
    regions = [shapely.box(6.6, 44.0, 9.5, 47.1), shapely.box(9.5, 44.0, 12.0, 47.1),
               shapely.box(12.0, 44.0, 14.0, 47.1)]
    assert _burnt(run_cli, _geojson(tmp_path / "regions.geojson", regions), tile,
                  tmp_path).sum() == 10000
    # OSM-like: 400 small houses scattered over the region, a few on the tile
    rng = np.random.default_rng(3)
    centres = np.column_stack([rng.uniform(8.9, 9.1, 400), rng.uniform(45.1, 45.2, 400)])
    houses = [shapely.box(x, y, x + 0.0002, y + 0.0001) for x, y in centres]
    houses += _to_lonlat([shapely.box(500100, 4999100, 500200, 4999200)])
    mask = _burnt(run_cli, _geojson(tmp_path / "osm.geojson", houses), tile, tmp_path)
    assert mask[80:90, 10:20].all()


def test_one_pixel_file_for_several_images_is_refused(run_cli, tile, tmp_path):
    other = write_raster(tmp_path / "other.tif", np.ones((1, 100, 100), np.uint8), crs=CRS,
                         transform=from_origin(501000, 5000000, 10, 10))
    pixels = _geojson(tmp_path / "pix.geojson", BUILDINGS)
    result = run_cli("make-masks", pixels, tile, other, "-o", tmp_path / "masks",
                     "--labels-crs", "pixels")
    assert_one_line_error(result, "pix.geojson", "one image's pixels", "2 images",
                          "the same polygons", "a folder of label files")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_spacenet7_label_folder_of_pixel_labels(run_cli, tmp_path):
    """images/ and labels_match_pix/ (*_Buildings.geojson): each image's file placed on its
    own grid, as the same polygons in map coordinates."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels_match_pix").mkdir()
    (tmp_path / "labels").mkdir()
    names = ["global_monthly_2018_01_mosaic_L15-0331E-1257N_1327_3160_13",
             "global_monthly_2018_01_mosaic_L15-0358E-1220N_1433_3310_13"]
    grids = [TRANSFORM, from_origin(612340.0, 5100020.0, 4, 4)]
    for i, (name, transform) in enumerate(zip(names, grids, strict=True)):
        write_raster(tmp_path / "images" / f"{name}.tif", np.ones((1, 100, 100), np.uint8),
                     crs=CRS, transform=transform)
        own = BUILDINGS[i:]
        _geojson(tmp_path / "labels_match_pix" / f"{name}_Buildings.geojson", own)
        _geojson(tmp_path / "labels" / f"{name}_Buildings.geojson", _to_map(own, transform),
                 CRS)
    images = sorted((tmp_path / "images").glob("*.tif"))
    result = run_cli("make-masks", tmp_path / "labels_match_pix", *images, "-o",
                     tmp_path / "masks", "--labels-crs", "pixels")
    assert result.exit_code == 0, result.output
    assert run_cli("make-masks", tmp_path / "labels", *images, "-o",
                   tmp_path / "reference").exit_code == 0
    for name in names:
        mask = _mask(tmp_path / "masks" / f"{name}.tif")
        np.testing.assert_array_equal(mask, _mask(tmp_path / "reference" / f"{name}.tif"))
        assert mask.sum() > 0
    # without the option: the first image (inside a 20-degree "building") warned of
    result = run_cli("make-masks", tmp_path / "labels_match_pix", *images, "-o",
                     tmp_path / "none")
    assert result.exit_code == 0, result.output
    assert f"{names[0]}_Buildings.geojson: read as longitude/latitude" in result.stderr
    assert "covers it whole" in result.stderr and "--labels-crs pixels" in result.stderr


def test_a_spacenet_csv_places_its_own_pixels(run_cli, tile, tmp_path):
    csv = tmp_path / "sn.csv"
    csv.write_text("ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo\n"
                   'tile,1,"POLYGON ((0 0,10 0,10 10,0 10,0 0))","POLYGON EMPTY"\n')
    result = run_cli("make-masks", csv, tile, "-o", tmp_path / "m.tif", "--labels-crs",
                     "pixels")
    assert_one_line_error(result, "sn.csv", "PolygonWKT_Pix", "leave out --labels-crs pixels")


def _annotations(folder):
    document = json.loads((folder / "annotations.json").read_text())
    return sorted((a["image_id"], a["category_id"], round(a["area"], 3)) for a in
                  document["annotations"])


def test_tile_labels_in_pixels(run_cli, tile, tmp_path):
    pixels = _geojson(tmp_path / "pix.geojson", BUILDINGS)
    mapped = _geojson(tmp_path / "map.geojson", _to_map(BUILDINGS, TRANSFORM), CRS)
    for labels, out, extra in ((pixels, "p", ["--labels-crs", "pixels"]),
                               (mapped, "m", [])):
        result = run_cli("tile", tile, "--labels", labels, "--annotations", "coco", "--size",
                         "50", "-o", tmp_path / out, *extra)
        assert result.exit_code == 0, result.output
    found = _annotations(tmp_path / "p")
    assert found == _annotations(tmp_path / "m") and len(found) >= 3
    result = run_cli("tile", tile, "--labels", pixels, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "none")  # read as lon/lat: warned of
    assert result.exit_code == 0, result.output
    assert "pix.geojson: read as longitude/latitude" in result.stderr
    assert "covers it whole" in result.stderr and "--labels-crs pixels" in result.stderr


def test_evaluate_refuses_pixel_truth_of_vector_files(run_cli, tmp_path):
    pixels = _geojson(tmp_path / "pix.geojson", BUILDINGS)
    prediction = _geojson(tmp_path / "pred.geojson", _to_map(BUILDINGS, TRANSFORM), CRS)
    result = run_cli("evaluate", prediction, pixels, "--labels-crs", "pixels")
    assert_one_line_error(result, "pix.geojson", "make-masks", "--labels-crs pixels")


def test_one_pixel_file_for_several_images_is_refused_on_workers_too(run_cli, tile, tmp_path):
    pytest.importorskip("dask.distributed")
    other = write_raster(tmp_path / "other.tif", np.ones((1, 100, 100), np.uint8), crs=CRS,
                         transform=from_origin(501000, 5000000, 10, 10))
    pixels = _geojson(tmp_path / "pix.geojson", BUILDINGS)
    result = run_cli("make-masks", pixels, tile, other, "-o", tmp_path / "masks",
                     "--labels-crs", "pixels", "--workers", "2")
    assert_one_line_error(result, "pix.geojson", "one image's pixels", "2 images")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def _utm_tile(path, lon, lat, size, pixel):
    """A ``size``-pixel square tile of ``pixel`` m centred on (lon, lat), in its UTM zone."""
    from pyproj import Transformer

    epsg = 32600 + int((lon + 180) // 6) + 1
    x, y = Transformer.from_crs("EPSG:4326", epsg, always_xy=True).transform(lon, lat)
    transform = from_origin(x - pixel * size / 2, y + pixel * size / 2, pixel, pixel)
    return write_raster(path, np.ones((1, size, size), np.uint8), crs=f"EPSG:{epsg}",
                        transform=transform)


def _ellipse(lon, lat, rx, ry):
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    return shapely.Polygon(np.column_stack([lon + rx * np.cos(t), lat + ry * np.sin(t)]))


#: real lon/lat data of big separate polygons in 0..90 degrees, where a small tile's pixel
#: coordinates lie: the Cyclades (Naxos, Paros, Andros), Niger and Egypt, lakes of the Sahel
CYCLADES = [_ellipse(25.45, 37.05, 0.13, 0.10), _ellipse(25.15, 37.07, 0.08, 0.07),
            _ellipse(24.85, 37.85, 0.12, 0.10)]
NIGER_EGYPT = [shapely.Polygon([(0.2, 11.7), (3.6, 11.7), (14.0, 13.0), (16.0, 15.5),
                                (15.5, 23.5), (12.0, 23.5), (5.0, 19.5), (0.2, 14.5)]),
               shapely.box(25.0, 22.0, 35.0, 31.6)]
LAKES = [_ellipse(14.0, 13.0, 0.6, 0.5), _ellipse(4.6, 10.3, 0.12, 0.5),
         _ellipse(36.1, 3.6, 0.2, 1.2)]


@pytest.mark.parametrize("polygons, lon, lat, pixel, burnt", [
    (CYCLADES, 25.45, 37.05, 0.3, 1.0),  # a 0.3 m tile inside Naxos: all land
    (CYCLADES, 25.58, 37.05, 0.3, 0.5),  # on Naxos' east shore: half land
    (NIGER_EGYPT, 8.0, 17.0, 30.0, 1.0),  # a Landsat tile in Niger
    (NIGER_EGYPT, 8.0, 17.0, 0.3, 1.0),
    (LAKES, 14.0, 13.0, 0.3, 1.0),  # inside Lake Chad: all water
    (LAKES, 8.5, 12.0, 0.3, 0.0),  # dry land near Kano: no water
], ids=["naxos", "naxos-shore", "niger-30m", "niger-0.3m", "lake-chad", "kano"])
def test_big_separate_lonlat_polygons_burn_not_refused(run_cli, tmp_path, polygons, lon, lat,
                                                       pixel, burnt):
    """Islands, countries, lakes (lon/lat, each thousands of times a small tile, none
    touching) whose coordinates fit the tile's 256 pixels: burnt as they lie, not taken
    for pixel coordinates."""
    image = _utm_tile(tmp_path / "tile.tif", lon, lat, 256, pixel)
    labels = _geojson(tmp_path / "areas.geojson", polygons)
    assert (_burnt(run_cli, labels, image, tmp_path) > 0).mean() == pytest.approx(burnt,
                                                                                  abs=0.02)


def test_a_plain_photo_takes_pixel_labels_with_the_option_as_without(run_cli, tmp_path):
    """No georeference: the option gives the mask a CRS-less GeoPackage gives without it; a
    GeoJSON (lon/lat by RFC 7946) without it is refused naming the option."""
    import geopandas as gpd

    photo = tmp_path / "photo.png"
    with rasterio.open(photo, "w", driver="PNG", width=100, height=100, count=1,
                       dtype="uint8") as dst:
        dst.write(np.ones((1, 100, 100), np.uint8))
    geojson = _geojson(tmp_path / "pix.geojson", BUILDINGS)
    gpkg = tmp_path / "pix.gpkg"
    gpd.GeoDataFrame(geometry=BUILDINGS).to_file(gpkg)
    result = run_cli("make-masks", geojson, photo, "-o", tmp_path / "none.tif")
    assert_one_line_error(result, "photo.png", "pix.geojson", "no georeferencing",
                          "--labels-crs pixels", "declares no CRS")
    assert not (tmp_path / "none.tif").exists()
    masks = []
    for labels, extra in ((geojson, ["--labels-crs", "pixels"]), (gpkg, ["--labels-crs",
                                                                         "pixels"]), (gpkg, [])):
        out = tmp_path / f"m{len(masks)}.tif"
        result = run_cli("make-masks", labels, photo, "-o", out, *extra)
        assert result.exit_code == 0, result.output
        masks.append(_mask(out))
    for mask in masks[1:]:
        np.testing.assert_array_equal(mask, masks[0])
    assert masks[0][40:60, 0:20].all() and masks[0][:10].sum() == 0


def test_line_width_is_metres_for_pixel_labels_too(run_cli, tile, tmp_path):
    """--line-width is ground metres whatever the labels' coordinates: 40 m on the 10 m
    tile is 4 pixels, as the same line in map coordinates burns."""
    line = [shapely.LineString([(0, 30), (100, 30)])]
    pixels = _geojson(tmp_path / "pix.geojson", line)
    mapped = _geojson(tmp_path / "map.geojson", _to_map(line, TRANSFORM), CRS)
    for labels, out, extra in ((pixels, "p.tif", ["--labels-crs", "pixels"]),
                               (mapped, "m.tif", [])):
        result = run_cli("make-masks", labels, tile, "-o", tmp_path / out, "--line-width", 40,
                         *extra)
        assert result.exit_code == 0, result.output
    mask = _mask(tmp_path / "p.tif")
    np.testing.assert_array_equal(mask, _mask(tmp_path / "m.tif"))
    assert np.nonzero(mask[:, 50])[0].tolist() == [28, 29, 30, 31]


@pytest.mark.parametrize("transform", [
    rasterio.Affine(8.660254, 5.0, 500000, 5.0, -8.660254, 5000000),  # rotated 30 degrees
    rasterio.Affine(10, 3, 500000, 2, -10, 5000000),  # sheared
    rasterio.Affine(10, 0, 500000, 0, 10, 4999000),  # south-up (positive y pixel size)
], ids=["rotated", "sheared", "south-up"])
def test_pixel_labels_follow_the_images_own_transform(run_cli, tmp_path, transform):
    """Rows and columns of the mask (on the image's grid) are the labels' y and x, whatever
    the geotransform; the same as the polygons placed in map coordinates."""
    image = write_raster(tmp_path / "img.tif", np.ones((1, 100, 100), np.uint8), crs=CRS,
                         transform=transform)
    pixels = _geojson(tmp_path / "pix.geojson", [shapely.box(10, 20, 30, 40)])
    mapped = _geojson(tmp_path / "map.geojson", _to_map([shapely.box(10, 20, 30, 40)],
                                                        transform), CRS)
    assert run_cli("make-masks", pixels, image, "-o", tmp_path / "p.tif", "--labels-crs",
                   "pixels").exit_code == 0
    assert run_cli("make-masks", mapped, image, "-o", tmp_path / "m.tif").exit_code == 0
    mask = _mask(tmp_path / "p.tif")
    expected = np.zeros((100, 100), np.uint8)
    expected[20:40, 10:30] = 1
    np.testing.assert_array_equal(mask > 0, expected > 0)
    np.testing.assert_array_equal(mask, _mask(tmp_path / "m.tif"))


#: SpaceNet 7's grid: EPSG:3857, 4.77 m pixels (a 100-pixel piece of a mosaic)
SN7_TRANSFORM = from_origin(-8577000.0, 4705000.0, 4.77, 4.77)


def _sn7(tmp_path):
    """An SN7 image and its two label files: labels/ (EPSG:3857, a crs member) and
    labels_match_pix/ (the same buildings in its pixels, no crs member)."""
    image = write_raster(tmp_path / "mosaic.tif", np.ones((1, 100, 100), np.uint8),
                         crs="EPSG:3857", transform=SN7_TRANSFORM)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels_match_pix").mkdir()
    mapped = _geojson(tmp_path / "labels" / "mosaic_Buildings.geojson",
                      _to_map(BUILDINGS, SN7_TRANSFORM), "urn:ogc:def:crs:EPSG::3857")
    pixels = _geojson(tmp_path / "labels_match_pix" / "mosaic_Buildings.geojson", BUILDINGS)
    return image, mapped, pixels


def test_map_coordinate_labels_given_as_pixels_are_refused(run_cli, tmp_path):
    """SpaceNet 7's labels/ (EPSG:3857) given with --labels-crs pixels in place of
    labels_match_pix/: placed as pixels they miss the image, in the CRS the file declares
    they lie on it. Refused in one line, nothing written (make-masks and tile)."""
    image, mapped, pixels = _sn7(tmp_path)
    result = run_cli("make-masks", mapped, image, "-o", tmp_path / "m.tif", "--labels-crs",
                     "pixels")
    assert_one_line_error(result, "mosaic_Buildings.geojson declares EPSG:3857",
                          "its labels lie on mosaic.tif",
                          "leave out --labels-crs pixels (it is for labels in the image's "
                          "pixels)")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("tile", image, "--labels", mapped, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "tiles", "--labels-crs", "pixels")
    assert_one_line_error(result, "mosaic_Buildings.geojson declares EPSG:3857",
                          "leave out --labels-crs pixels")
    assert not (tmp_path / "tiles").exists() or not any((tmp_path / "tiles").iterdir())
    # a folder of them (labels/ for labels_match_pix/): refused the same way
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", f"{tmp_path}/masks/",
                     "--labels-crs", "pixels")
    assert_one_line_error(result, "declares EPSG:3857", "leave out --labels-crs pixels")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())
    # as meant: the same mask either way
    for labels, out, extra in ((mapped, "m.tif", []),
                               (pixels, "p.tif", ["--labels-crs", "pixels"])):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / out, *extra)
        assert result.exit_code == 0, result.output
    mask = _mask(tmp_path / "p.tif")
    np.testing.assert_array_equal(mask, _mask(tmp_path / "m.tif"))
    assert mask[40:60, 0:20].all() and mask.sum() > 1000


def test_a_geopackage_of_pixels_declaring_lonlat_is_burnt_as_pixels(run_cli, tile, tmp_path):
    """Tools write EPSG:4326 into a GeoPackage by default: its pixel coordinates fit the
    image's pixels (and, read as lon/lat, would cover this tile in northern Italy too), so
    the option places them, as the same buildings in map coordinates burn."""
    import geopandas as gpd

    pixels = tmp_path / "pix.gpkg"
    gpd.GeoDataFrame(geometry=BUILDINGS, crs="EPSG:4326").to_file(pixels)
    mapped = _geojson(tmp_path / "map.geojson", _to_map(BUILDINGS, TRANSFORM), CRS)
    result = run_cli("make-masks", pixels, tile, "-o", tmp_path / "p.tif", "--labels-crs",
                     "pixels")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr, result.stderr
    assert run_cli("make-masks", mapped, tile, "-o", tmp_path / "m.tif").exit_code == 0
    mask = _mask(tmp_path / "p.tif")
    np.testing.assert_array_equal(mask, _mask(tmp_path / "m.tif"))
    assert mask[40:60, 0:20].all() and mask[:10].sum() == 0


@pytest.mark.parametrize("crs", [None, "EPSG:3857"], ids=["no-crs", "declared-elsewhere"])
def test_another_images_pixels_warn_in_pixels(run_cli, tile, tmp_path, crs):
    """A file of a bigger image's pixels, none on this 100x100 tile (and, in the CRS the file
    may declare, nowhere near it): burnt as nothing, exit 0, with a warning in pixels that
    says to check the file is the image's (not to pass --labels-crs)."""
    other = [shapely.box(500, 600, 520, 620), shapely.box(700, 150, 730, 190)]
    labels = _geojson(tmp_path / "pix.geojson", other, crs)
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "m.tif", "--labels-crs",
                     "pixels")
    assert result.exit_code == 0, result.output
    assert _mask(tmp_path / "m.tif").sum() == 0
    lines = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 1, result.stderr
    for fragment in ("pix.geojson: no feature overlaps tile.tif",
                     "the labels span (500, 150) to (730, 620) in pixels",
                     "the image is 100x100 px", "the mask is all zeros",
                     "check that the file is this image's"):
        assert fragment in lines[0], lines[0]
    assert "pass --labels-crs with" not in lines[0] and "EPSG:32632" not in lines[0]
    result = run_cli("tile", tile, "--labels", labels, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "tiles", "--labels-crs", "pixels")
    assert result.exit_code == 0, result.output
    assert "the labels span (500, 150) to (730, 620) in pixels" in result.stderr
    assert "have no annotations" in result.stderr


def test_a_shapefile_prj_or_geopackage_srs_is_what_the_file_declares(run_cli, tmp_path):
    """The refusal of map coordinates given as pixels names what the file declares however
    it declares it: a Shapefile's .prj, a GeoPackage's srs (EPSG:4326 lon/lat too); a
    GeoJSON's implicit lon/lat is no declaration (warned of in pixels, as before)."""
    import geopandas as gpd

    image, _, _ = _sn7(tmp_path)
    mapped = _to_map(BUILDINGS, SN7_TRANSFORM)
    gpd.GeoDataFrame(geometry=mapped, crs="EPSG:3857").to_file(tmp_path / "b.shp")
    gpd.GeoDataFrame(geometry=mapped, crs="EPSG:3857").to_crs("EPSG:4326").to_file(
        tmp_path / "b.gpkg")
    for labels, code in (("b.shp", "EPSG:3857"), ("b.gpkg", "EPSG:4326")):
        result = run_cli("make-masks", tmp_path / labels, image, "-o", tmp_path / "m.tif",
                         "--labels-crs", "pixels")
        assert_one_line_error(result, f"{labels} declares {code}",
                              "its labels lie on mosaic.tif", "leave out --labels-crs pixels")
        assert not (tmp_path / "m.tif").exists()
    lonlat = _geojson(tmp_path / "lonlat.geojson",
                      _to_lonlat(mapped, "EPSG:3857"))  # RFC 7946: no crs member
    result = run_cli("make-masks", lonlat, image, "-o", tmp_path / "m.tif", "--labels-crs",
                     "pixels")
    assert result.exit_code == 0, result.output
    assert "lonlat.geojson: no feature overlaps mosaic.tif" in result.stderr
    assert "in pixels, the image is 100x100 px" in result.stderr


def test_lon_lat_labels_on_one_tile_name_no_pixels_for_the_tiles_they_miss(run_cli, tmp_path):
    """Lon/lat labels on t1.tif (near lon 15, lat 0) miss its neighbour t2.tif, whose 40x40
    pixels their coordinates happen to fit: t2's warning said 'pass --labels-crs pixels if
    they are' although t1 burnt their feature (400 px), so they are plainly lon/lat. The
    advice is given only where no image of the run has a feature; t2 alone still gets it."""
    tiles = []
    for name, x0 in (("t1.tif", 15.0), ("t2.tif", 15.01)):
        tiles.append(write_raster(tmp_path / name, np.ones((40, 40), np.uint8), crs="EPSG:4326",
                                  transform=from_origin(x0, 0.0004, 0.00001, 0.00001)))
    labels = _geojson(tmp_path / "lab.geojson", [shapely.box(15.0001, 0.0001, 15.0003, 0.0003)])
    for order in (tiles, tiles[::-1]):
        result = run_cli("make-masks", labels, *order, "-o", tmp_path / "out", "--overwrite")
        assert result.exit_code == 0, result.output
        assert _mask(tmp_path / "out" / "t1.tif").sum() == 400
        warned = [line for line in result.stderr.splitlines() if "Warning" in line]
        assert len(warned) == 1 and "no feature overlaps t2.tif" in warned[0], result.stderr
        assert "--labels-crs pixels" not in result.stderr and "pixel coordinates" not in \
            result.stderr
    result = run_cli("make-masks", labels, tiles[1], "-o", tmp_path / "alone.tif")
    assert result.exit_code == 0, result.output
    assert "no feature overlaps t2.tif" in result.stderr
    assert "They lie within t2.tif's 40x40 pixels" in result.stderr

def test_pixels_that_read_as_lon_lat_off_the_image_name_labels_crs_pixels(run_cli, tile,
                                                                          tmp_path):
    """Pixel coordinates given without --labels-crs that are degrees too (10..30: a spot in
    the Sahara, read as lon/lat) overlap nothing: the warning says to pass --labels-crs
    pixels as well as --labels-crs <CRS>, as they lie within the image's 100x100 pixels;
    the mask is all zeros, exit 0. Coordinates beyond its pixels name no pixels."""
    labels = _geojson(tmp_path / "pix.geojson", [shapely.box(10, 10, 20, 20),
                                                 shapely.box(22, 15, 30, 25)])
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert _mask(tmp_path / "m.tif").sum() == 0
    lines = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 1, result.stderr
    for fragment in ("pix.geojson: no feature overlaps tile.tif", "pass --labels-crs with",
                     "They lie within tile.tif's 100x100 pixels, as its pixel coordinates "
                     "would: pass --labels-crs pixels if they are"):
        assert fragment in lines[0], lines[0]
    result = run_cli("tile", tile, "--labels", labels, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "tiles")
    assert result.exit_code == 0, result.output
    assert "pass --labels-crs pixels if they are" in result.stderr
    far = _geojson(tmp_path / "far.geojson", [shapely.box(110, 10, 120, 20)])
    result = run_cli("make-masks", far, tile, "-o", tmp_path / "f.tif")
    assert result.exit_code == 0, result.output
    assert "no feature overlaps" in result.stderr
    assert "--labels-crs pixels" not in result.stderr
