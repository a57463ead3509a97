"""Land-cover products as label rasters and truths, synthesised with their real layouts:
ESA WorldCover (EPSG:4326 tiles meeting at whole degrees, colour table, nodata 0), Google
Dynamic World exports (nine probability bands and 'label'), Urban Atlas / CORINE codes
(uint16), under an orthotile at 0.4 m in UTM, checked against each pixel centre's label."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine, from_origin

from tests.conftest import assert_one_line_error, write_raster

#: Dynamic World's bands as Earth Engine exports them (descriptions), 'label' last
DYNAMIC_WORLD = ["water", "trees", "grass", "flooded_vegetation", "crops", "shrub_and_scrub",
                 "built", "bare", "snow_and_ice", "label"]
#: WorldCover's class values
WORLDCOVER = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100], np.uint8)
#: WorldCover's pixel: 1/12000 degree, as its tiles' geotransforms write it
DEGREE_PX = 8.333333333333333e-05


def _blocks(rng, shape, classes, block=2) -> np.ndarray:
    small = rng.choice(classes, size=(shape[0] // block + 1, shape[1] // block + 1))
    return small.repeat(block, 0).repeat(block, 1)[: shape[0], : shape[1]]


def _orthotile(path, crs, x, y, size=300, res=0.4):
    """An RGB orthotile of ``size`` px at ``res`` m centred on (x, y)."""
    pixels = np.full((3, size, size), 90, np.uint8)
    return write_raster(path, pixels, crs=crs,
                        transform=from_origin(x - size * res / 2, y + size * res / 2, res, res))


def _worldcover_tile(path, rng, west, col, row, shape=(120, 90)):
    """The window (``row``, ``col``; ``shape``) of the 3x3 degree WorldCover tile whose
    top-left corner is (``west``, 48), as gdal_translate -srcwin cuts it: uint8 class
    values in 2 px blocks, its colour table (0 transparent), nodata 0."""
    transform = Affine(DEGREE_PX, 0, west, 0, -DEGREE_PX, 48.0) * Affine.translation(col, row)
    ids = _blocks(rng, shape, WORLDCOVER)
    colours = dict.fromkeys(range(256), (0, 0, 0, 0))
    colours.update({int(v): (int(v), 255 - int(v), 100, 255) for v in WORLDCOVER})
    write_raster(path, ids, crs="EPSG:4326", transform=transform, nodata=0)
    with rasterio.open(path, "r+") as dst:
        dst.write_colormap(1, colours)
    return path


def _mosaic(path, tiles):
    """A VRT of tiles on one grid side by side, as gdalbuildvrt writes it (colour table and
    nodata 0 kept)."""
    with rasterio.open(tiles[0]) as src:
        transform, height, colours = src.transform, src.height, src.colormap(1)
    sources, width = [], 0
    for tile in tiles:
        with rasterio.open(tile) as src:
            x = round((src.transform.c - transform.c) / transform.a)
            sources.append(
                f'<ComplexSource><SourceFilename relativeToVRT="0">{tile}</SourceFilename>'
                f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{src.width}" '
                f'ySize="{src.height}"/><DstRect xOff="{x}" yOff="0" xSize="{src.width}" '
                f'ySize="{src.height}"/><NODATA>0</NODATA></ComplexSource>')
            width = max(width, x + src.width)
    entries = "".join(f'<Entry c1="{c[0]}" c2="{c[1]}" c3="{c[2]}" c4="{c[3]}"/>'
                      for _, c in sorted(colours.items()))
    path.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>EPSG:4326</SRS>'
        f"<GeoTransform>{transform.c!r}, {transform.a!r}, 0, {transform.f!r}, 0, "
        f'{transform.e!r}</GeoTransform><VRTRasterBand dataType="Byte" band="1">'
        f"<NoDataValue>0</NoDataValue><ColorInterp>Palette</ColorInterp>"
        f"<ColorTable>{entries}</ColorTable>{''.join(sources)}</VRTRasterBand></VRTDataset>")
    return path


def _under_centres(tiles, image, edges=None) -> np.ndarray:
    """The label under each pixel centre of ``image`` (PROJ per centre, then the tile pixel
    it falls in), 255 outside every tile and on its nodata: the independent check.
    ``edges``: a boolean array set where a centre lies within 1e-6 px of a label pixel edge
    (either pixel is right)."""
    with rasterio.open(image) as src:
        rows, cols = np.mgrid[0:src.height, 0:src.width]
        xs, ys = src.transform * (cols + 0.5, rows + 0.5)
        crs, shape = src.crs, (src.height, src.width)
    want = np.full(shape, 255, np.int64)
    for tile in tiles:
        with rasterio.open(tile) as src:
            lon, lat = Transformer.from_crs(crs, src.crs, always_xy=True).transform(xs, ys)
            col, row = ~src.transform * (lon, lat)
            if edges is not None:
                edges |= (np.abs(col - np.rint(col)) < 1e-6) | (np.abs(row - np.rint(row)) < 1e-6)
            col, row = np.floor(col).astype(int), np.floor(row).astype(int)
            inside = (col >= 0) & (col < src.width) & (row >= 0) & (row < src.height)
            values = src.read(1)[row[inside], col[inside]]
            found = want[inside]
            want[inside] = np.where((found == 255) & (values != src.nodata), values, found)
    return want


def test_a_worldcover_mosaic_of_two_tiles_under_a_utm_orthotile(tmp_path, run_cli):
    """Two WorldCover tiles meeting at 9 degrees east (N45E006, N45E009), mosaicked by a VRT,
    under a 0.4 m UTM 32N orthotile astride the meridian: every pixel holds the class
    value under its centre (no value interpolated, none beyond WorldCover's, the colour
    table not read as RGB), nodata 0 and the land outside the tiles the ignore value 255,
    and no seam, gap or half-pixel shift at the meridian."""
    rng = np.random.default_rng(2)
    row = 30060  # lat 45.495
    west = _worldcover_tile(tmp_path / "ESA_WorldCover_10m_2021_v200_N45E006_Map.tif", rng,
                            6.0, 36000 - 90, row)
    east = _worldcover_tile(tmp_path / "ESA_WorldCover_10m_2021_v200_N45E009_Map.tif", rng,
                            9.0, 0, row)
    with rasterio.open(east, "r+") as dst:  # a stretch of no data in the east tile
        ids = dst.read(1)
        ids[:, 4:9] = 0
        dst.write(ids, 1)
    mosaic = _mosaic(tmp_path / "worldcover.vrt", [west, east])
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True).transform(
        9.0002, 45.4852)
    # its top rows lie north of the tiles' window (45.495): outside the label raster
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:32632", x, y + 1050, size=600)
    result = run_cli("make-masks", mosaic, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        mask, nodata = src.read(1), src.nodata
    want = _under_centres([west, east], image)
    assert nodata == 255
    assert set(np.unique(mask)) <= {*WORLDCOVER.tolist(), 255}
    assert (mask == 255).any() and (mask == 255).mean() < 0.5  # nodata and outside: ignored
    assert np.array_equal(mask, want)


#: NLCD's Albers (EPSG:5070's parameters, as its files' own WKT names no code)
NLCD_ALBERS = ("+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 "
               "+datum=NAD83 +units=m +no_defs")
NLCD = [11, 12, 21, 22, 23, 24, 31, 41, 42, 43, 52, 71, 81, 82, 90, 95]


@pytest.mark.parametrize(("product", "crs", "res", "classes", "nodata", "image_crs", "where",
                          "image_res"), [
    ("nlcd_2019", NLCD_ALBERS, 30, NLCD, 250, "EPSG:32617", (-80.0, 40.0), 0.4),
    ("nlcd_2016", "EPSG:5070", 30, NLCD, 0, "EPSG:26917", (-80.0, 40.0), 0.4),
    ("esri_io_17S", "EPSG:32617", 10, list(range(1, 12)), 0, "EPSG:32618", (-78.05, 39.0),
     0.5),
    ("chesapeake_lc", NLCD_ALBERS, 1, list(range(1, 13)), 15, "EPSG:32618", (-76.5, 38.9),
     0.3),
])
def test_land_cover_rasters_under_an_orthotile_in_another_crs(
        tmp_path, run_cli, product, crs, res, classes, nodata, image_crs, where, image_res):
    """NLCD (Albers, 30 m, 256-entry colour table, nodata 250 or 0), Esri/IO 10 m (UTM 17N
    under an image in 18N), Chesapeake 1 m (nodata 15) under an orthotile astride the label
    raster's east edge: each pixel holds the class under its centre (none interpolated, the
    colour table not read as RGB), nodata and the area past the raster 255."""
    rng = np.random.default_rng(6)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*where)
    size = 100
    east = np.floor(x / res) * res + 60  # the raster ends 60 m east of the image's centre
    ids = _blocks(rng, (size, size), np.array(classes, np.uint8))
    stripe = max(1, round(40 / res))  # a stretch of nodata the image sees
    ids[: size // 2 + 3, size - 2 * stripe: size - stripe] = nodata
    labels = write_raster(tmp_path / f"{product}.tif", ids, crs=crs, nodata=nodata,
                          transform=from_origin(east - size * res, y + size * res / 2, res, res))
    with rasterio.open(labels, "r+") as dst:
        dst.write_colormap(1, {i: (i, 255 - i, 128, 255) for i in range(256)})
    ix, iy = Transformer.from_crs("EPSG:4326", image_crs, always_xy=True).transform(*where)
    image = _orthotile(tmp_path / "ortho.tif", image_crs, ix, iy, size=400, res=image_res)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        mask = src.read(1)
    edges = np.zeros(mask.shape, bool)
    want = _under_centres([labels], image, edges)
    assert edges.sum() < 5
    assert np.array_equal(mask[~edges], want[~edges])
    assert set(np.unique(mask)) <= {*classes, 255} and len(np.unique(mask)) > 3
    assert 0.02 < (mask == 255).mean() < 0.6  # nodata and the land past the raster


def _dynamic_world(path, rng, shape=(60, 60), label_first=False):
    """A Dynamic World export: nine class probabilities and 'label' (float32, as Earth
    Engine writes an image of mixed types), UTM 10 m; returns (path, label ids)."""
    probabilities = rng.dirichlet(np.ones(9), size=shape).astype(np.float32)
    probabilities = np.moveaxis(probabilities, -1, 0)
    label = probabilities.argmax(0).astype(np.float32)[np.newaxis]
    bands, names = (np.concatenate([probabilities, label]), DYNAMIC_WORLD)
    if label_first:
        bands, names = np.concatenate([label, probabilities]), DYNAMIC_WORLD[-1:] + \
            DYNAMIC_WORLD[:-1]
    write_raster(path, bands, crs="EPSG:32633", transform=from_origin(500000, 5540000, 10, 10),
                 descriptions=names)
    return path, label[0].astype(np.uint8)


@pytest.mark.parametrize("label_first", [False, True])
def test_a_dynamic_world_export_as_labels_names_its_label_band(tmp_path, run_cli, label_first):
    """make-masks on Dynamic World's ten bands said "give one of them (gdal_translate -b N)"
    without N; it names the 'label' band's number and the command, nothing written."""
    labels, _ = _dynamic_world(tmp_path / "dw.tif", np.random.default_rng(0),
                               label_first=label_first)
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:32633", 500300, 5539700)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    band = 1 if label_first else 10
    assert_one_line_error(result, str(labels), f"band {band} ('label')",
                          f"gdal_translate -b {band} dw.tif")
    assert not (tmp_path / "mask.tif").exists()


@pytest.mark.parametrize("side", ["truth", "prediction"])
def test_a_dynamic_world_export_in_evaluate_names_its_label_band(tmp_path, run_cli, side):
    """evaluate read Dynamic World's ten bands as probabilities and refused them with "values
    reach 8: ... gdal_translate -ot Byte", which keeps band 1 (water's probability, 0 as a
    byte); it names the 'label' band, and scoring that band alone gives the accuracy of
    the ids."""
    rng = np.random.default_rng(1)
    export, label = _dynamic_world(tmp_path / "dw.tif", rng)
    other = label.copy()
    other[20:30] = 3
    ids = write_raster(tmp_path / "ids.tif", other, crs="EPSG:32633",
                       transform=from_origin(500000, 5540000, 10, 10))
    pair = (ids, export) if side == "truth" else (export, ids)
    result = run_cli("evaluate", *pair, "--json")
    assert_one_line_error(result, str(export), "band 10 ('label')",
                          "gdal_translate -b 10 dw.tif")
    with rasterio.open(export) as src:  # what the message says to do
        band = src.read(10).astype(np.uint8)
    alone = write_raster(tmp_path / "label.tif", band, crs="EPSG:32633",
                         transform=from_origin(500000, 5540000, 10, 10))
    pair = (ids, alone) if side == "truth" else (alone, ids)
    result = run_cli("evaluate", *pair, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == pytest.approx((other == label).mean())


def test_a_declared_nodata_0_that_no_pixel_holds_is_not_warned_of(tmp_path, run_cli):
    """A WorldCover tile declares nodata 0 and, inland, holds none: make-masks warned "its 0
    is read as no data, 0% of the pixels left out. If 0 is background, unset its nodata"
    of a value it never met; it says nothing, and still warns where 0s are left out."""
    rng = np.random.default_rng(3)
    tile = _worldcover_tile(tmp_path / "ESA_WorldCover_10m_2021_v200_N45E006_Map.tif", rng,
                            6.0, 36000 - 90, 30060)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True).transform(
        8.9965, 45.4902)
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:32632", x, y)
    result = run_cli("make-masks", tile, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    assert "nodata 0" not in result.stderr, result.stderr
    with rasterio.open(tile, "r+") as dst:
        ids = dst.read(1)
        ids[:12] = 0
        dst.write(ids, 1)
    result = run_cli("make-masks", tile, image, "-o", tmp_path / "mask.tif", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "and nodata 0: its 0 is read as no data, 10% of the pixels left out" in result.stderr


def test_corine_codes_beyond_a_mask_under_a_later_image_write_no_mask(tmp_path, run_cli):
    """CORINE Land Cover's codes as a uint16 raster (EPSG:3035, 100 m): 112 (discontinuous
    urban fabric) fits a mask, 311 (broad-leaved forest) does not. The masks of images
    before the one under 311 were written and left behind by the refusal; every image is
    checked first: one line naming 311, no mask. Codes never wrap (311 is not 55)."""
    codes = np.full((40, 40), 112, np.uint16)
    codes[:, 20:] = 311
    labels = write_raster(tmp_path / "U2018_CLC2018_V2020_20u1.tif", codes, crs="EPSG:3035",
                          transform=from_origin(4679000, 3000000, 100, 100), nodata=0)
    to_utm = Transformer.from_crs("EPSG:3035", "EPSG:32633", always_xy=True)
    images = [_orthotile(tmp_path / f"{name}.tif", "EPSG:32633",
                         *to_utm.transform(4679000 + east, 2998000), size=200, res=0.5)
              for name, east in (("a", 500), ("b", 3500))]
    out = tmp_path / "masks"
    result = run_cli("make-masks", labels, *images, "-o", out)
    assert_one_line_error(result, str(labels), "class id 311 does not fit")
    assert not out.exists() or not any(out.iterdir())
    result = run_cli("make-masks", labels, images[0], "-o", f"{out}/")  # 112 alone: kept
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "a.tif") as src:
        assert np.unique(src.read(1)).tolist() == [112]


def test_a_land_cover_clip_of_water_alone_is_told_how_to_keep_its_nodata(tmp_path, run_cli):
    """An Esri/Impact Observatory 10 m land-cover clip over a lake: water (1) alone beside
    nodata 0 reads as a 0/1 mask (gdal_rasterize -burn 1 -a_nodata 0), its nodata as
    background, and the warning gave no way to say otherwise; it names the tag that does,
    and with it the nodata is the ignore value 255, water 1, no pixel 0."""
    ids = np.ones((60, 60), np.uint8)
    ids[:, 40:] = 0  # the clip's outside
    labels = write_raster(tmp_path / "17S_20230101-20240101.tif", ids, crs="EPSG:32617",
                          transform=from_origin(600000, 4300000, 10, 10), nodata=0)
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:32617", 600400, 4299700, size=500)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    fix = f"gdal_edit.py -mo GEOTILE_ZERO=nodata {labels}"
    assert "its 0 is read as background" in result.stderr and fix in result.stderr
    with rasterio.open(labels, "r+") as dst:  # what the warning says to do
        dst.update_tags(GEOTILE_ZERO="nodata")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--overwrite")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        mask = src.read(1)
    xs = 600400 - 100 + (np.arange(500) + 0.5) * 0.4  # column centres; the clip ends at 600400
    assert (mask[:, xs < 600400] == 1).all() and (mask[:, xs > 600400] == 255).all()


def test_two_worldcover_tiles_given_as_labels_and_image_are_told_to_be_mosaicked(
        tmp_path, run_cli):
    """make-masks N45E006.tif N45E009.tif ortho.tif (both tiles as LABELS) took the second
    tile for an image: exit 0, a mask of that tile and the orthotile's east half the ignore
    value (only a warning that the tile "does not cover" it). An "image" on the label
    raster's grid, of its type and colour table, beside it is another tile of it: one line
    saying to mosaic them (gdalbuildvrt), no mask."""
    rng = np.random.default_rng(4)
    west = _worldcover_tile(tmp_path / "ESA_WorldCover_10m_2021_v200_N45E006_Map.tif", rng,
                            6.0, 36000 - 90, 30060)
    east = _worldcover_tile(tmp_path / "ESA_WorldCover_10m_2021_v200_N45E009_Map.tif", rng,
                            9.0, 0, 30060)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True).transform(
        9.0002, 45.4902)
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:32632", x, y)
    out = tmp_path / "masks"
    result = run_cli("make-masks", west, east, image, "-o", f"{out}/")
    assert_one_line_error(result, str(east), "another tile of", "gdalbuildvrt")
    assert not out.exists() or not any(out.iterdir())
    mosaic = _mosaic(tmp_path / "worldcover.vrt", [west, east])  # as the message says
    result = run_cli("make-masks", mosaic, image, "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "ortho.tif") as src:
        assert np.array_equal(src.read(1), _under_centres([west, east], image))


def test_an_urban_atlas_truth_of_codes_beyond_1023_is_told_to_renumber(tmp_path, run_cli):
    """Urban Atlas' codes (11100..50000, uint16) as a truth were refused as "instance ids or
    counts ... if it holds probabilities scaled to 0..65535, set its scale first
    (gdal_edit.py -scale ...)", advice that reads the classes as probabilities; a few
    distinct codes are named as codes to renumber, without the scale advice."""
    rng = np.random.default_rng(5)
    codes = _blocks(rng, (60, 60), np.array([11100, 12100, 14100, 21000, 31000], np.uint16), 3)
    grid = {"crs": "EPSG:3035", "transform": from_origin(4679000, 3000000, 10, 10)}
    truth = write_raster(tmp_path / "DE001L1_BERLIN_UA2018.tif", codes, nodata=0, **grid)
    prediction = write_raster(tmp_path / "prediction.tif",
                              rng.integers(0, 5, (60, 60)).astype(np.uint8), **grid)
    result = run_cli("evaluate", prediction, truth)
    assert_one_line_error(result, str(truth), "value 31000", "5 distinct values",
                          "renumber them")
    assert "-scale" not in result.stderr


def test_an_image_over_the_nodata_of_a_label_raster_is_not_told_its_crs_may_be_wrong(
        tmp_path, run_cli):
    """Chesapeake's 1 m land cover is 15 (no data) outside the watershed, inside its
    rectangle: an orthotile there got "does not cover ortho.tif ... The label raster's CRS
    may be wrong"; it is told the label raster holds only no data under it."""
    ids = np.full((200, 200), 15, np.uint8)
    ids[:, :50] = 5  # the watershed's edge, west of the image
    labels = write_raster(tmp_path / "chesapeake_lc.tif", ids, crs="EPSG:5070", nodata=15,
                          transform=from_origin(1600000, 1900000, 1, 1))
    image = _orthotile(tmp_path / "ortho.tif", "EPSG:5070", 1600150, 1899900, size=200)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    assert "holds only no data under ortho.tif" in result.stderr, result.stderr
    assert "CRS may be wrong" not in result.stderr
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert (src.read(1) == 255).all()


def test_corine_codes_beside_a_rotated_image_footprint_are_not_refused(tmp_path, run_cli):
    """An orthotile in UTM 33N lies askew on CORINE's EPSG:3035 grid: the label window
    bounding it reaches 100 m cells no pixel centre of it falls in. 311 there, 112 under
    every centre: the mask is all 112 (exit 0), as before the up-front id check, which read
    the whole bounding window and refused 311."""
    x0, y0, res, size = 4679000, 3000000, 100, 40
    to_utm = Transformer.from_crs("EPSG:3035", "EPSG:32633", always_xy=True)
    image = _orthotile(tmp_path / "a.tif", "EPSG:32633",
                       *to_utm.transform(x0 + 2000, y0 - 2000), size=200, res=2.0)
    with rasterio.open(image) as src:
        rows, cols = np.mgrid[0:src.height, 0:src.width] + 0.5
        xs, ys = src.transform * (cols.ravel(), rows.ravel())
    ex, ny = Transformer.from_crs("EPSG:32633", "EPSG:3035", always_xy=True).transform(xs, ys)
    codes = np.full((size, size), 311, np.uint16)
    codes[((y0 - ny) // res).astype(int), ((ex - x0) // res).astype(int)] = 112
    assert (codes == 311).sum() > size * size - 30  # only the cells under the image are 112
    labels = write_raster(tmp_path / "clc.tif", codes, crs="EPSG:3035",
                          transform=from_origin(x0, y0, res, res), nodata=0)
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path}/masks/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / "a.tif") as src:
        assert np.unique(src.read(1)).tolist() == [112]


def test_codes_between_the_pixel_centres_of_a_coarser_image_are_not_refused(tmp_path, run_cli):
    """A uint16 label raster at 0.25 m under a 1 m orthotile: a mask reads the label pixel
    under each image pixel's centre, not the three rows between them, which hold 300 here.
    The mask is all 7 (exit 0), as before the up-front id check, which refused 300."""
    codes = np.full((120, 120), 7, np.uint16)
    codes[0::4] = 300  # the first row of each 4 x 4 block: no centre of the 1 m pixels
    labels = write_raster(tmp_path / "labels.tif", codes, crs="EPSG:32633",
                          transform=from_origin(500000, 5000000, 0.25, 0.25), nodata=0)
    image = write_raster(tmp_path / "a.tif", np.full((3, 30, 30), 90, np.uint8),
                         crs="EPSG:32633", transform=from_origin(500000, 5000000, 1, 1))
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path}/masks/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / "a.tif") as src:
        assert np.unique(src.read(1)).tolist() == [7]
    codes[2::4] = 301  # under the centres: refused, naming it, no mask
    labels = write_raster(tmp_path / "centres.tif", codes, crs="EPSG:32633",
                          transform=from_origin(500000, 5000000, 0.25, 0.25), nodata=0)
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path}/refused/")
    assert_one_line_error(result, str(labels), "class id 301 does not fit")
    assert not (tmp_path / "refused" / "a.tif").exists()
