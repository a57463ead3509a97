"""The open building-footprint datasets as make-masks labels, as they ship: Google Open
Buildings' CSV (WKT polygons in lon/lat beside latitude/longitude points), Microsoft's
.csv.gz of GeoJSON lines, Overture's GeoParquet (a bbox struct column)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN
TO_LONLAT = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)


def lonlat(shape):
    return shapely.transform(shape, lambda xy: np.column_stack(TO_LONLAT.transform(*xy.T)))


#: three 2 x 6 m footprints (4 x 12 px at 0.5 m) at columns 2, 8 and 14 px, and confidences
FOOTPRINTS = [(shapely.box(X0 + col, Y0 - 7, X0 + col + 2, Y0 - 1), confidence)
              for col, confidence in ((1, 0.9), (4, 0.65), (7, 0.7))]


@pytest.fixture
def image(make_raster):
    return make_raster("img.tif", np.zeros((20, 20), np.uint8))


def mask_of(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def open_buildings_csv(rows=FOOTPRINTS) -> str:
    """Google Open Buildings v3's CSV: latitude, longitude, area_in_meters, confidence,
    geometry (WKT polygon in lon/lat), full_plus_code."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["latitude", "longitude", "area_in_meters", "confidence", "geometry",
                     "full_plus_code"])
    for utm, confidence in rows:
        shape = lonlat(utm)
        writer.writerow([shape.centroid.y, shape.centroid.x, 12.0, confidence, shape.wkt,
                         "865Q8X6C+2XQ5"])
    return text.getvalue()


def footprints_burnt(mask: np.ndarray) -> None:
    """The three footprints' polygons, not their centre points, burnt."""
    assert np.count_nonzero(mask) == 3 * 48, np.count_nonzero(mask)
    for col in (2, 8, 14):
        assert (mask[2:14, col:col + 4] == 1).all()


@pytest.mark.parametrize("name", ["open_buildings.csv", "open_buildings.csv.gz"])
def test_google_open_buildings_csv_burns_its_polygons(run_cli, image, tmp_path, name):
    """Google Open Buildings' CSV (and its .csv.gz) was refused with an ogr2ogr command to
    convert it first; now its WKT polygons (lon/lat, EPSG:4326 as the dataset documents)
    are burnt where they lie, not the latitude/longitude points beside them."""
    path = tmp_path / name
    text = open_buildings_csv().encode()
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["masks"][0]["features"] == 3
    footprints_burnt(mask_of(out))


def test_google_open_buildings_confidence_as_class_field(run_cli, image, tmp_path):
    """Its confidence column reads as numbers, as GDAL's type detection gives them: a
    --class-field of them is refused as not whole ids, not as text names."""
    path = tmp_path / "open_buildings.csv"
    path.write_text(open_buildings_csv())
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--class-field",
                     "confidence")
    assert_one_line_error(result, "open_buildings.csv", "0.9", "not a whole class id")


def test_a_csv_of_projected_wkt_without_a_crs_names_labels_crs(run_cli, image, tmp_path):
    """A CSV of one WKT column in metres: read as lon/lat (a CSV names no CRS) it cannot
    be; refused naming --labels-crs, with which it burns."""
    path = tmp_path / "buildings.csv"
    path.write_text("id,WKT_geometry\n" + "".join(
        f'{i},"{utm.wkt}"\n' for i, (utm, _) in enumerate(FOOTPRINTS)))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "buildings.csv", "--labels-crs")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--labels-crs",
                     UTM_CRS)
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def test_microsoft_footprints_csv_gz_with_height_and_confidence(run_cli, image, tmp_path):
    """Microsoft's GlobalMLBuildingFootprints part (quadkey folder, .csv.gz of GeoJSON
    Features, properties height and confidence, -1 where unknown) burns as given."""
    lines = "".join(json.dumps({"type": "Feature", "geometry": shapely.geometry.mapping(
        lonlat(utm)), "properties": {"height": -1.0, "confidence": c}}) + "\n"
        for utm, c in FOOTPRINTS)
    path = tmp_path / "quadkey=032001101" / "part-00170-a1b2.c000.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(lines.encode()))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
