"""`geotile make-masks` on the command line: outputs, summaries, and each bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN


@pytest.fixture
def scene(make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((3, 30, 30), np.uint8))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 1, Y0 - 6, X0 + 6, Y0 - 1)], crs=UTM_CRS).to_file(
        labels
    )
    return image, labels


def test_writes_mask_and_summary(run_cli, scene, tmp_path):
    image, labels = scene
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    assert "1 feature, 100 positive pixels" in result.stdout  # was "1 features"
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert src.read(1)[2:12, 2:12].all()


def test_a_quiet_run_imports_only_what_it_needs(scene, tmp_path):
    """Start-up counts for one mask: no progress bars, pandas stack or ONNX Runtime."""
    image, labels = scene
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['geotile', '-q', 'make-masks', {str(labels)!r}, {str(image)!r}, '-o', "
        f"{str(tmp_path / 'mask.tif')!r}]\n"
        "try:\n    runpy.run_module('geotile', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'tqdm', 'geopandas', "
        "'pandas', 'pyproj', 'onnxruntime', 'dask', 'scipy', 'pyogrio'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert src.read(1)[2:12, 2:12].all()


def test_several_images_go_to_a_folder(run_cli, scene, make_raster, tmp_path):
    image, labels = scene
    other = make_raster("other.tif", np.zeros((30, 30), np.uint8))
    result = run_cli("make-masks", labels, image, other, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    # each mask with its PAM sidecar: the class ids' names and colours (gdalinfo, QGIS)
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == [
        "img.tif", "img.tif.aux.xml", "other.tif", "other.tif.aux.xml"]


def test_channels_make_three_bands(run_cli, scene, tmp_path):
    image, labels = scene
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--channels",
                     "footprint,boundary,contact")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        assert src.count == 3 and src.descriptions == ("footprint", "boundary", "contact")


def test_channels_in_another_order_count_the_footprint(run_cli, scene, tmp_path):
    """The summary's positive pixels are the footprint's, wherever its band is; class names
    and categories describe a footprint band 1 only."""
    import json

    image, labels = scene
    counts = {}
    for channels in ("footprint", "boundary,footprint", "boundary"):
        out = tmp_path / f"{channels.replace(',', '_')}.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--channels", channels,
                         "--json")
        assert result.exit_code == 0, result.output
        counts[channels] = json.loads(result.stdout)["masks"][0]["positive_pixels"]
        with rasterio.open(out) as src:
            bands = dict(zip(src.descriptions, src.read(), strict=True))
            first = src.descriptions[0]
        sidecar = out.with_name(out.name + ".aux.xml")
        named = sidecar.exists() and "<CategoryNames>" in sidecar.read_text()
        assert named == (first == "footprint")  # boundary pixels are not "building"
        if "footprint" in bands:
            assert counts[channels] == int(np.count_nonzero(bands["footprint"])) == 100
    assert counts["boundary"] == int(np.count_nonzero(bands["boundary"])) > 0


@pytest.mark.parametrize("channels, twice", [("footprint,footprint", "footprint"),
                                             ("footprint,boundary,boundary", "boundary")])
def test_a_channel_named_twice_is_one_line(run_cli, scene, tmp_path, channels, twice):
    image, labels = scene
    out = tmp_path / "m.tif"
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", out, "--channels",
                                  channels), f"--channels names {twice} twice")
    assert not out.exists()


def test_existing_output_needs_overwrite(run_cli, scene, tmp_path):
    image, labels = scene
    out = tmp_path / "mask.tif"
    out.write_bytes(b"keep me")
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", out), "mask.tif",
                          "--overwrite")
    assert out.read_bytes() == b"keep me"
    assert run_cli("make-masks", labels, image, "-o", out, "--overwrite").exit_code == 0
    with rasterio.open(out) as src:
        assert src.read(1).sum() == 100


def test_missing_files(run_cli, scene, tmp_path):
    image, labels = scene
    assert_one_line_error(run_cli("make-masks", tmp_path / "nope.geojson", image, "-o",
                                  tmp_path / "m.tif"), "nope.geojson", "no such file")
    assert_one_line_error(run_cli("make-masks", labels, tmp_path / "nope.tif", "-o",
                                  tmp_path / "m.tif"), "nope.tif", "no such file")
    assert not (tmp_path / "m.tif").exists()


def test_not_a_raster_and_not_vector(run_cli, scene, tmp_path):
    image, labels = scene
    junk = tmp_path / "junk.tif"
    junk.write_text("hello")
    assert_one_line_error(run_cli("make-masks", labels, junk, "-o", tmp_path / "m.tif"),
                          "junk.tif", "not a raster")
    junk_vector = tmp_path / "junk.geojson"
    junk_vector.write_text("{not json")
    assert_one_line_error(run_cli("make-masks", junk_vector, image, "-o", tmp_path / "m.tif"),
                          "junk.geojson", "not vector data")
    assert not (tmp_path / "m.tif").exists()


def test_corrupt_raster(run_cli, scene, real_data, tmp_path):
    _, labels = scene
    result = run_cli("make-masks", labels, real_data / "rasterio" / "corrupt.tif", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "corrupt.tif", "cannot be read")
    assert list(tmp_path.glob("*.tif")) == [tmp_path / "img.tif"]


def test_raster_without_crs(run_cli, scene, make_raster, tmp_path):
    _, labels = scene
    nocrs = make_raster("nocrs.tif", np.zeros((10, 10), np.uint8), crs=None)
    assert_one_line_error(run_cli("make-masks", labels, nocrs, "-o", tmp_path / "m.tif"),
                          "nocrs.tif", "no CRS", "gdal_edit.py")


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("transform", [None, "geotransform"])
def test_an_image_the_labels_cannot_be_placed_on_is_refused_before_any_mask(
        run_cli, scene, make_raster, tmp_path, transform):
    """A folder of two georeferenced tiles and a photo without CRS: img.tif's mask was
    written, then the photo stopped the run (exit 1, half done). Every image is checked first:
    one line naming the photo, no mask written."""
    from rasterio.transform import from_origin

    _, labels = scene
    folder = tmp_path / "fold"
    folder.mkdir()
    make_raster("fold/a.tif", np.zeros((30, 30), np.uint8))
    make_raster("fold/b.tif", np.zeros((30, 30), np.uint8))
    make_raster("fold/p.tif", np.zeros((30, 30), np.uint8), crs=None,
                transform=from_origin(0, 30, 1, 1) if transform else None)
    if transform is None:  # no geotransform either (the identity)
        with rasterio.open(folder / "p.tif", "r+") as dst:
            dst.transform = rasterio.Affine.identity()
    out = tmp_path / "fm"
    result = run_cli("make-masks", labels, folder, "-o", out)
    assert_one_line_error(result, "p.tif", "cannot be placed")
    assert not out.exists() or not any(out.iterdir())


def test_an_empty_layer_is_named_in_the_warning(run_cli, scene, tmp_path):
    """--layer naming an empty layer of a GeoPackage whose other layer holds the buildings:
    the warning said 'two.gpkg holds no features', which its other layer belies; it names
    the layer (make-masks and tile --labels alike)."""
    import geopandas as gpd
    import shapely

    image, _ = scene
    two = tmp_path / "two.gpkg"
    frame = gpd.GeoDataFrame({"c": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:32633")
    frame.to_file(two, layer="roads")
    frame.iloc[:0].to_file(two, layer="empty_layer")
    result = run_cli("make-masks", two, image, "-o", tmp_path / "m.tif", "--layer",
                     "empty_layer")
    assert result.exit_code == 0, result.output
    assert "layer 'empty_layer' of " in result.stderr and "holds no features" in result.stderr
    result = run_cli("tile", image, "--labels", two, "--layer", "empty_layer", "--size", "64",
                     "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    assert "layer 'empty_layer' of " in result.stderr and "holds no features" in result.stderr


def test_labels_without_geometries_and_empty(run_cli, scene, tmp_path):
    image, _ = scene
    nogeom = tmp_path / "nogeom.csv"
    nogeom.write_text("name,height\nA,3\n")
    assert_one_line_error(run_cli("make-masks", nogeom, image, "-o", tmp_path / "m.tif"),
                          "nogeom.csv", "no geometries")
    # an empty collection is a labels file of no building (SpaceNet ships one per such
    # tile): the all-zero mask, said in one warning, not an error that stops a tile loop
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    result = run_cli("make-masks", empty, image, "-o", tmp_path / "empty.tif")
    assert result.exit_code == 0 and "empty.geojson holds no features" in result.stderr
    nulls = tmp_path / "nulls.geojson"
    nulls.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                     '"properties": {"a": 1}, "geometry": null}]}')
    assert_one_line_error(run_cli("make-masks", nulls, image, "-o", tmp_path / "m.tif"),
                          "nulls.geojson")
    assert not (tmp_path / "m.tif").exists()


def test_no_overlap_warns_on_one_line(run_cli, make_raster, tmp_path):
    image = make_raster("far.tif", np.zeros((10, 10), np.uint8))
    labels = tmp_path / "elsewhere.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=UTM_CRS).to_file(labels)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0
    assert "Warning: " in result.stderr and "--labels-crs" in result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.read(1).sum() == 0


def test_output_with_trailing_slash_is_a_folder(run_cli, scene, tmp_path):
    image, labels = scene
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "masks").is_dir()
    with rasterio.open(tmp_path / "masks" / "img.tif") as src:
        assert src.read(1)[2:12, 2:12].all()


@pytest.mark.parametrize("name", ["mask.geojson", "mask.png", "mask"])
def test_output_must_be_named_tif(run_cli, scene, tmp_path, name):
    image, labels = scene
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", tmp_path / name),
                          name, ".tif")
    assert not (tmp_path / name).exists()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.TIFF")
    assert result.exit_code == 0, result.output


def test_never_writes_over_an_input(run_cli, scene, tmp_path):
    image, labels = scene
    before = image.read_bytes(), labels.read_bytes()
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", image, "--overwrite"),
                          "img.tif", "input")
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", labels, "--overwrite"),
                          "labels.geojson")
    # several images into their own folder: <stem>.tif would be the images themselves
    other = tmp_path / "other.tif"
    other.write_bytes(image.read_bytes())
    assert_one_line_error(run_cli("make-masks", labels, image, other, "-o", tmp_path,
                                  "--overwrite"), "img.tif", "input")
    assert (image.read_bytes(), labels.read_bytes()) == before


def test_labels_named_tif_are_never_overwritten(run_cli, scene, tmp_path):
    image, labels = scene
    odd = tmp_path / "labels.tif"
    odd.write_bytes(labels.read_bytes())
    assert_one_line_error(run_cli("make-masks", odd, image, "-o", odd, "--overwrite"),
                          "labels.tif", "input")
    assert odd.read_bytes() == labels.read_bytes()


def test_creation_options_are_applied(run_cli, scene, tmp_path):
    image, labels = scene
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--co", "COMPRESS=ZSTD",
                     "--co", "BLOCKXSIZE=32", "--co", "BLOCKYSIZE=32")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        assert src.compression.name.lower() == "zstd" and src.block_shapes[0] == (32, 32)
        assert src.read(1)[2:12, 2:12].all()


@pytest.mark.parametrize("option, fragment", [
    ("BLOCKXSIZE=7", "BLOCKXSIZE=7"),
    ("COMPRESS=JPEG", "COMPRESS=JPEG"),
    ("COMPRESS", "KEY=VALUE"),
    ("FOO=BAR", "--co FOO=BAR"),
    ("COMPRESS=NOPE", "--co COMPRESS=NOPE"),
    # fewer bits than uint8 would store class ids and the ignore value 255 truncated
    ("NBITS=1", "NBITS=1"),
    ("nbits=4", "NBITS=4"),
])
def test_bad_creation_options_are_one_line(run_cli, scene, tmp_path, option, fragment):
    image, labels = scene
    out = tmp_path / "m.tif"
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", out, "--co", option),
                          fragment)
    assert not out.exists()


def test_json_summary(run_cli, scene, make_raster, tmp_path):
    import json

    image, labels = scene
    other = make_raster("other.tif", np.zeros((30, 30), np.uint8), nodata=0)
    result = run_cli("make-masks", labels, image, other, "-o", tmp_path / "masks", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    first, second = summary["masks"]
    assert first["output"] == str(tmp_path / "masks" / "img.tif")
    assert (first["features"], first["positive_pixels"], first["ignored_pixels"]) == (1, 100, 0)
    assert second["ignored_pixels"] == 900 and second["positive_pixels"] == 0
    assert summary["classes"] == ["background", "building"]


def _boxes_geojson(path, values, field="cls"):
    """One 4 m box (8 px) a feature, 10 px apart, with ``field`` = each value (as typed)."""
    import json

    features = [{"type": "Feature", "properties": {field: v},
                 "geometry": shapely.geometry.mapping(shapely.box(X0 + 5 * i, Y0 - 4,
                                                                  X0 + 5 * i + 4, Y0))}
                for i, v in enumerate(values)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                "crs": {"type": "name", "properties": {"name": UTM_CRS}}}))
    return path


@pytest.mark.parametrize("values", [[1, 2, 10, 3, "n/a", "n/a"], ["1", "2", "10", "3", "n/a",
                                                                   "n/a"]])
def test_class_ids_with_a_stray_name_are_refused(run_cli, make_raster, tmp_path, values):
    """A field of ids with a placeholder ('n/a') was read as names sorted as text: id 2 was
    burnt as 3 and 10 as 2, exit 0."""
    image = make_raster("img.tif", np.zeros((10, 60), np.uint8))
    labels = _boxes_geojson(tmp_path / "mixed.geojson", values)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls")
    assert_one_line_error(result, "mixed.geojson", "'cls'", "'n/a' (2 features)", "--class-map")
    assert not out.exists()
    # a map naming every value is the way through
    mapping = tmp_path / "map.json"
    mapping.write_text('{"1": 1, "2": 2, "3": 3, "10": 10, "n/a": 4}')
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls",
                     "--class-map", mapping)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask = src.read(1)
    assert [int(mask[4, 10 * i + 4]) for i in range(6)] == [1, 2, 10, 3, 4, 4]


@pytest.mark.parametrize("values, ids, names", [
    (["tree", "house", "tree"], [2, 1, 2], ["house", "tree"]),
    # Python's float reads '1_1' as 11: these codes were burnt as ids 21, 12 and 11 named
    # '21', '12', '11', exit 0; they are names
    (["2_1", "1_2", "1_1"], [3, 2, 1], ["1_1", "1_2", "2_1"]),
])
def test_a_field_of_names_gets_ids_in_sorted_order(run_cli, make_raster, tmp_path, values,
                                                   ids, names):
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    labels = _boxes_geojson(tmp_path / "names.geojson", values)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask, tagged = src.read(1), json.loads(src.tags()["GEOTILE_CLASS_NAMES"])
    assert [int(mask[4, 10 * i + 4]) for i in range(3)] == ids
    assert tagged == ["background", *names]


def test_a_class_code_with_an_underscore_beside_its_digits_is_no_id(run_cli, make_raster,
                                                                     tmp_path):
    """'1_1' beside '11' was one class 11, exit 0: a name mixed with ids, refused."""
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    labels = _boxes_geojson(tmp_path / "merged.geojson", ["1_1", "11"])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--class-field",
                     "cls")
    assert_one_line_error(result, "merged.geojson", "'1_1' (1 feature)", "--class-map")


def test_more_names_than_a_mask_holds_say_so(run_cli, make_raster, tmp_path):
    """300 class names (ids 1..300 in sorted order) were refused as 'class id 255 is outside
    1..254', an id the user never gave."""
    image = make_raster("img.tif", np.zeros((10, 3000), np.uint8))
    labels = _boxes_geojson(tmp_path / "names.geojson", [f"type {i:03d}" for i in range(300)])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls")
    assert_one_line_error(result, "names.geojson", "'cls' holds 300 class names",
                          "at most 254", "--class-map")
    assert "class id 255" not in result.stderr and not out.exists()


def test_ids_given_to_names_are_said(run_cli, make_raster, tmp_path):
    """Ids of names without --class-map depend on the names a file holds (a file of only
    'tree' makes tree 1, another with 'house' makes it 2): they were written silently, so
    masks made file by file disagreed unseen. The summary says them; not with --class-map,
    with ids in the field or with -q."""
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    for values, said in ((["tree", "house", "tree"], "1 house, 2 tree"),
                         (["tree", "tree"], "1 tree")):
        labels = _boxes_geojson(tmp_path / "names.geojson", values)
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                         "--class-field", "cls", "--overwrite")
        assert result.exit_code == 0, result.output
        assert f"class ids by name: {said} (" in result.stdout
        assert "--class-map" in result.stdout.splitlines()[-1]
    mapping = tmp_path / "map.json"
    mapping.write_text('{"tree": 1, "house": 2}')
    labels = _boxes_geojson(tmp_path / "names.geojson", ["tree", "house"])
    numbers = _boxes_geojson(tmp_path / "ids.geojson", [3, 1])
    for extra in (("--class-map", mapping), ("-q",)):
        result = run_cli("make-masks", labels, image, "-o",
                         tmp_path / "m.tif", "--class-field", "cls", "--overwrite", *extra)
        assert result.exit_code == 0, result.output
        assert "class ids" not in result.stdout
    result = run_cli("make-masks", numbers, image, "-o", tmp_path / "n.tif", "--class-field",
                     "cls")
    assert result.exit_code == 0 and "class ids" not in result.stdout, result.output


def test_labels_in_a_map_crs_on_a_local_crs_image_are_one_line(run_cli, make_raster, tmp_path):
    """An image in a local engineering CRS (LOCAL_CS, a site grid) and labels in UTM: PROJ
    cannot transform between them, and make-masks ended in a pyproj traceback. One line
    naming the labels and the fix; labels in the image's own local CRS are burnt."""
    from rasterio.transform import from_origin

    local = ('LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],'
             'AXIS["Northing",NORTH]]')
    image = make_raster("site.tif", np.zeros((3, 40, 40), np.uint8), crs=local,
                        transform=from_origin(0, 20, 0.5, 0.5))
    utm = tmp_path / "utm.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(2, 2, 8, 8)], crs=UTM_CRS).to_file(utm)
    result = run_cli("make-masks", utm, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "utm.geojson", "site grid", "--labels-crs")
    assert not (tmp_path / "m.tif").exists()
    plain = tmp_path / "plain.geojson"
    with pytest.warns(UserWarning, match="crs"):  # pyogrio: a file without a CRS
        gpd.GeoDataFrame(geometry=[shapely.box(2, 12, 8, 18)]).to_file(plain)
    result = run_cli("make-masks", plain, image, "-o", tmp_path / "m.tif", "--labels-crs", local)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as mask:
        burnt = mask.read(1)
    assert burnt.sum() == 12 * 12 and burnt[4:16, 4:16].all()


def test_line_width_on_a_feet_site_grid_is_in_metres(run_cli, make_raster, tmp_path):
    """make-masks --line-width 2 of lines in a local site grid in US survey feet (LOCAL_CS)
    ended in pyproj's 'Error creating Transformer from CRS' traceback: the lines are
    buffered in the grid's metres, 2 m = 6.56 ft = 13.1 pixels of 0.5 ft (rows 13..26)."""
    from rasterio.transform import from_origin

    feet = ('LOCAL_CS["site grid ft",UNIT["US survey foot",0.304800609601219],'
            'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
    image = make_raster("site.tif", np.zeros((3, 64, 64), np.uint8), crs=feet,
                        transform=from_origin(1000, 2000, 0.5, 0.5))
    lines = tmp_path / "lines.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(1001, 1990), (1030, 1990)])],
                     crs=feet).to_file(lines)
    result = run_cli("make-masks", lines, image, "-o", tmp_path / "m.tif", "--line-width", "2")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as mask:
        burnt = mask.read(1)
    assert np.flatnonzero(burnt.any(axis=1)).tolist() == list(range(13, 27))


def test_label_raster_in_utm_on_a_site_grid_image_is_one_line(run_cli, make_raster, tmp_path):
    """A label raster in UTM on an image in a local site grid (LOCAL_CS): make-masks ended
    in pyproj's 'Error creating Transformer from CRS' traceback while warping. One line
    naming the label raster, both CRSs and the fix; no mask written."""
    from rasterio.transform import from_origin

    local = ('LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],'
             'AXIS["Northing",NORTH]]')
    image = make_raster("site.tif", np.zeros((3, 40, 40), np.uint8), crs=local,
                        transform=from_origin(0, 20, 0.5, 0.5))
    labels = make_raster("utm_labels.tif", np.ones((40, 40), np.uint8), crs=UTM_CRS,
                         transform=from_origin(0, 20, 0.5, 0.5))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "utm_labels.tif", "site grid", "EPSG:32616", "in the image's CRS")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("command", ["make-masks", "predict"])
def test_the_same_image_given_twice_is_said_so(run_cli, make_raster, tmp_path, command):
    """`make-masks l.geojson tiles/*.tif ./tiles/a.tif` said "inputs share the file name 'a':
    their outputs would collide. Run them separately": one file given twice; give it once."""
    from .onnx_models import pointwise_model

    (tmp_path / "tiles").mkdir()
    for name in ("a", "b"):
        make_raster(f"tiles/{name}.tif", np.ones((3, 20, 20), np.uint8))
    x, y = UTM_ORIGIN
    labels = tmp_path / "l.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(x, y - 5, x + 5, y)], crs=UTM_CRS).to_file(labels)
    first = pointwise_model(tmp_path / "m.onnx") if command == "predict" else labels
    images = [tmp_path / "tiles" / "a.tif", tmp_path / "tiles" / "b.tif",
              f"{tmp_path}/tiles/../tiles/a.tif"]
    result = run_cli(command, first, *images, "-o", tmp_path / "out")
    assert_one_line_error(result, "a.tif: given twice", "give each image once")
    assert not (tmp_path / "out").exists()


def test_a_class_map_naming_a_class_twice_is_refused(run_cli, make_raster, tmp_path):
    """{"house": 1, "tree": 2, "house": 3}: JSON keeps the last id, so houses were burnt
    as 3 with exit 0 (a --palette file naming a class twice was already refused)."""
    image = make_raster("img.tif", np.zeros((10, 40), np.uint8))
    labels = _boxes_geojson(tmp_path / "names.geojson", ["tree", "house", "tree"])
    mapping = tmp_path / "map.json"
    mapping.write_text('{"house": 1, "tree": 2, "house": 3}')
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls",
                     "--class-map", mapping)
    assert_one_line_error(result, "map.json", "'house' is named twice")
    assert not out.exists()


def _cut_download(make_raster):
    """cut.tif: a tiled DEFLATE GeoTIFF whose download stopped 200 bytes short (its last
    tile)."""
    pixels = np.random.default_rng(0).integers(0, 255, (3, 128, 128)).astype(np.uint8)
    cut = make_raster("cut.tif", pixels, tiled=True, blockxsize=64, blockysize=64,
                      compress="deflate")
    cut.write_bytes(cut.read_bytes()[:-200])
    return cut


def test_several_images_refuse_a_truncated_one_before_the_first(run_cli, scene, make_raster,
                                                                  tmp_path):
    """img.tif then a download cut 200 bytes short (its last tile): img.tif's mask was
    written before the one-line refusal; every image's pixels are checked up front."""
    image, labels = scene
    cut = _cut_download(make_raster)
    result = run_cli("make-masks", labels, image, cut, "-o", tmp_path / "out")
    assert_one_line_error(result, "cut.tif", "damaged or truncated")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_several_images_are_checked_once_each(run_cli, scene, make_raster, tmp_path,
                                              monkeypatch):
    """The up-front check of every image's first and last blocks was done again as each
    mask was made: 20 JPEGs of 12 MP (the last block decodes all of it) took 4.7-5.2 s
    instead of 2.8-3.4 s. An image checked and unchanged since is not read again."""
    import geotile.raster

    image, labels = scene
    other = make_raster("other.tif", np.zeros((3, 30, 30), np.uint8))
    reads = []
    read_window = geotile.raster.read_window
    monkeypatch.setattr(geotile.raster, "read_window",
                        lambda src, *a, **k: reads.append(src.name) or read_window(src, *a, **k))
    result = run_cli("make-masks", labels, image, other, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(reads) == sorted([str(image)] * 2 + [str(other)] * 2)
    assert (tmp_path / "out" / "img.tif").exists() and (tmp_path / "out" / "other.tif").exists()


def test_a_label_raster_over_several_images_refuses_a_truncated_one_first(run_cli, make_raster,
                                                                         tmp_path):
    """The up-front check covered vector labels only: a label raster over img.tif and a
    download cut 200 bytes short wrote img.tif's mask, then failed on cut.tif."""
    labels = make_raster("classes.tif", np.full((1, 128, 128), 2, np.uint8))
    image = make_raster("img.tif", np.zeros((3, 30, 30), np.uint8))
    cut = _cut_download(make_raster)
    result = run_cli("make-masks", labels, image, cut, "-o", tmp_path / "out")
    assert_one_line_error(result, "cut.tif", "damaged or truncated")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(("crs", "kind"), [("EPSG:5773", "vertical"),
                                           ("EPSG:4978", "geocentric")])
def test_labels_in_a_crs_of_heights_or_earth_centred_xyz_are_refused(run_cli, scene, tmp_path,
                                                                     crs, kind):
    """--labels-crs EPSG:5773 (EGM96 heights: the vertical half of a drone ortho's compound
    CRS) or a file declaring it wrote an all-zero mask with exit 0 (a warning placed the
    image at '48.75, 15' in 'the labels' EPSG:5773'). Heights place nothing on a map: one
    line naming the CRS, no mask."""
    image, labels = scene
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                                  "--labels-crs", crs), "--labels-crs", crs, kind)
    declared = tmp_path / "declared.gpkg"
    gpd.read_file(labels).set_crs(crs, allow_override=True).to_file(declared)
    assert_one_line_error(run_cli("make-masks", declared, image, "-o", tmp_path / "m.tif"),
                          "declared.gpkg", kind, "--labels-crs")
    assert not (tmp_path / "m.tif").exists()


def test_a_cog_only_creation_option_is_not_told_to_add_cog(run_cli, scene, tmp_path):
    """make-masks has no --cog: the hint for a COG driver option must not name it."""
    image, labels = scene
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--co", "OVERVIEWS=AUTO")
    assert_one_line_error(result, "--co OVERVIEWS=AUTO", "COG")
    assert "--cog" not in result.stderr
    assert not out.exists()


def test_shape_options_without_their_band_or_lines_are_refused(run_cli, scene, make_raster,
                                                                tmp_path):
    """--boundary-width 5 without a boundary band, --contact-spacing 4 without a contact
    band, --line-cap flat without --line-width (also on a label raster) exited 0 with a mask
    identical to the run without them. Each is refused in one line (exit 2), nothing
    written; with their band or lines they still run."""
    image, labels = scene
    raster = make_raster("lab.tif", np.ones((30, 30), np.uint8))
    out = tmp_path / "m.tif"
    refused = [((labels, "--boundary-width", "5"), "--boundary-width", "boundary"),
               ((labels, "--channels", "footprint,contact", "--boundary-width", "6"),
                "--boundary-width", "boundary"),
               ((labels, "--channels", "footprint,boundary", "--contact-spacing", "3"),
                "--contact-spacing", "contact"),
               ((labels, "--line-cap", "flat"), "--line-cap", "--line-width"),
               ((raster, "--line-cap", "flat"), "--line-cap", "--line-width"),
               ((raster, "--contact-spacing", "4"), "--contact-spacing", "contact")]
    for (source, *args), *fragments in refused:
        result = run_cli("make-masks", source, image, "-o", out, *args)
        assert_one_line_error(result, *fragments, code=2)
        assert not out.exists()
    for args in (("--channels", "footprint,boundary", "--boundary-width", "4"),
                 ("--channels", "contact", "--contact-spacing", "4"),
                 ("--line-width", "2", "--line-cap", "flat")):
        result = run_cli("make-masks", labels, image, "-o", out, "--overwrite", *args)
        assert result.exit_code == 0, result.output


def test_a_pixel_is_point_image_is_read_at_its_place_whatever_gtiff_point_geo_ignore(
        run_cli, tmp_path, monkeypatch):
    """GTIFF_POINT_GEO_IGNORE=YES (GDAL < 1.8's reading, left in many GIS set-ups) read a
    PixelIsPoint GeoTIFF half a pixel off: the mask was burnt on the shifted grid."""
    from rasterio.env import set_gdal_config

    from geotile import MaskOptions, make_masks

    image = tmp_path / "point.tif"
    with rasterio.open(image, "w", driver="GTiff", width=30, height=30, count=1,
                       dtype="uint8", crs=UTM_CRS,
                       transform=rasterio.transform.from_origin(X0, Y0, 0.5, 0.5)) as dst:
        dst.update_tags(AREA_OR_POINT="Point")
        dst.write(np.zeros((1, 30, 30), np.uint8))
    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 1.4, Y0 - 6.4, X0 + 6.4, Y0 - 1.4)],
                     crs=UTM_CRS).to_file(labels)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "clean.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "clean.tif") as clean:
        expected, transform = clean.read(1), clean.transform
    assert transform.c == X0 and transform.f == Y0
    assert expected[3:13, 3:13].all() and expected.sum() == 100
    monkeypatch.setenv("GTIFF_POINT_GEO_IGNORE", "YES")
    try:
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "set.tif")
        assert result.exit_code == 0, result.output
        make_masks(labels, [image], [tmp_path / "library.tif"], options=MaskOptions())
        for name in ("set.tif", "library.tif"):
            with rasterio.Env(GTIFF_POINT_GEO_IGNORE="NO"), rasterio.open(tmp_path / name) as src:
                assert src.transform == transform, name
                np.testing.assert_array_equal(src.read(1), expected, err_msg=name)
    finally:  # rasterio.Env leaves the environment's value as a GDAL setting
        set_gdal_config("GTIFF_POINT_GEO_IGNORE", None)


def test_labels_crs_as_a_bare_epsg_number_is_that_code(run_cli, scene, tmp_path):
    """--labels-crs 32616 (the code as QGIS and the .prj-less deliveries' readmes give it;
    vectorize --crs 4326 takes it so) exited 1 with "is not a CRS GDAL knows (The WKT could
    not be parsed. OGR Error code 5)". It is EPSG:32616: the same mask as --labels-crs
    EPSG:32616; a number that is no EPSG code is still refused in one line."""
    image, labels = scene
    bare = tmp_path / "bare.gpkg"
    frame = gpd.read_file(labels)
    gpd.GeoDataFrame(geometry=frame.geometry.values).to_file(bare)  # no CRS declared
    masks = {}
    for crs in ("EPSG:32616", "32616", " 32616 "):
        out = tmp_path / f"m{len(masks)}.tif"
        result = run_cli("make-masks", bare, image, "-o", out, "--labels-crs", crs)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as src:
            masks[crs] = src.read()
    assert masks["EPSG:32616"].sum() == 100  # 5 x 5 m of 0.5 m pixels
    for crs in ("32616", " 32616 "):
        np.testing.assert_array_equal(masks[crs], masks["EPSG:32616"])
    assert_one_line_error(run_cli("make-masks", bare, image, "-o", tmp_path / "x.tif",
                                  "--labels-crs", "99999"), "--labels-crs", "99999")
    assert not (tmp_path / "x.tif").exists()


@pytest.mark.parametrize("all_touched", [False, True])
def test_labels_reaching_far_past_the_image_burn_exactly_their_pixels(run_cli, make_raster,
                                                                      tmp_path, all_touched):
    """A GeoJSON in the image's UTM CRS (0.5 m pixels) with polygons reaching 1e12 px to the
    right and 3e9 px below, and a road 3e9 px long (--line-width 2): GDAL's burn overflowed
    past 2**31 px (18 of the first's 162 pixels burnt, none of the second's, exit 0). Each
    is burnt as exactly its pixels of the image: those of shapely's rule, footprint, boundary
    and contact the bands of the features cut 1000 px past the image."""
    from tests.pixel_label_files import FAR_DOWN, FAR_RIGHT, analytic_pixels

    height, width = 40, 50
    image = make_raster("img.tif", np.zeros((1, height, width), np.uint8))
    with rasterio.open(image) as src:
        transform = src.transform
    polygons = [shapely.affinity.affine_transform(shapely.Polygon(r), transform.to_shapely())
                for r in (FAR_RIGHT, FAR_DOWN)]
    road = shapely.LineString([transform * (40.3, 15.2), transform * (44.6, 3e9)])
    near = shapely.affinity.affine_transform(
        shapely.box(-1000, -1000, width + 1000, height + 1000), transform.to_shapely())
    touched = ["--all-touched"] if all_touched else []
    masks = []
    for name, geometries in (("far", [*polygons, road]),
                             ("near", [g.intersection(near) for g in (*polygons, road)])):
        labels = tmp_path / f"{name}.geojson"
        gpd.GeoDataFrame(geometry=geometries, crs=UTM_CRS).to_file(labels)
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{name}.tif",
                         "--channels", "footprint,boundary,contact", "--line-width", "2",
                         *touched)
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{name}.tif") as src:
            masks.append(src.read())
    np.testing.assert_array_equal(masks[0], masks[1])
    expected = analytic_pixels([FAR_RIGHT, FAR_DOWN], height, width, all_touched)
    beside_road = np.ones((height, width), bool)
    beside_road[12:, 36:] = False
    np.testing.assert_array_equal((masks[0][0] > 0)[beside_road], expected[beside_road])
    assert masks[0][0][:, 38:].any()  # the road
    assert masks[0][1].any() and masks[0][2].any()  # boundary, contact between the polygons


def test_a_class_map_naming_only_background_is_refused_naming_its_file(run_cli, make_raster,
                                                                       tmp_path):
    """A name that says background given 0 is left out of a class map (FloodNet's, b61ca3a):
    a map of nothing else was then empty and refused as '--class-map: not a JSON object of
    class names to ids' (it is one, and the file went unnamed); now one line naming the
    file and what to add. Beside a class, background 0 is still taken."""
    image = make_raster("img.tif", np.zeros((10, 20), np.uint8))
    labels = _boxes_geojson(tmp_path / "names.geojson", ["tree", "house"])
    mapping = tmp_path / "floodnet.json"
    out = tmp_path / "m.tif"
    for only in ({"background": 0}, {"Background": 0, "void": 0}):
        mapping.write_text(json.dumps(only))
        result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls",
                         "--class-map", mapping)
        assert_one_line_error(result, "floodnet.json", "background", "1..254")
        assert "not a JSON object" not in result.stderr and not out.exists()
    mapping.write_text(json.dumps({"background": 0, "tree": 3, "house": 5}))
    result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "cls",
                     "--class-map", mapping)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask = src.read(1)
    assert [int(mask[4, 10 * i + 4]) for i in range(2)] == [3, 5]


ALBERS = ('PROJCS["Custom_Albers",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID['
          '"WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
          '0.0174532925199433]],PROJECTION["Albers"],PARAMETER["False_Easting",0.0],'
          'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",-96.0],'
          'PARAMETER["Standard_Parallel_1",29.5],PARAMETER["Standard_Parallel_2",45.5],'
          'PARAMETER["Latitude_Of_Origin",23.0],UNIT["Meter",1.0]]')


@pytest.mark.parametrize("crs, fix", [(ALBERS, "gdalsrsinfo -o wkt scene.tif > scene.wkt"),
                                      (UTM_CRS, f"--labels-crs {UTM_CRS}")])
def test_labels_in_the_images_crs_read_as_lon_lat_are_told_that_crs(tmp_path, run_cli,
                                                                     make_raster, crs, fix):
    """GeoJSON without a crs member holding the image's own projected coordinates (as
    SpaceNet's geotiff_custom_proj_labels.geojson, in a custom Albers without EPSG code) was
    told 'Pass --labels-crs with the CRS they are really in (EPSG:xxxx or WKT)', with no
    code to give -> the refusal says they lie on the image in its CRS and how to pass it: its
    code, or (none) its WKT written to a file by gdalsrsinfo; given so, they are burnt."""
    from rasterio.transform import from_origin

    transform = from_origin(-663400.0, 2118700.0, 30.0, 30.0) if crs == ALBERS else \
        from_origin(*UTM_ORIGIN, 0.5, 0.5)
    image = make_raster("scene.tif", np.zeros((1, 40, 40), np.uint8), crs=crs,
                        transform=transform)
    square = shapely.Polygon([transform * xy for xy in ((5, 6), (15, 6), (15, 20), (5, 20))])
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(square)}]}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "labels.geojson", "not longitude/latitude",
                          "lie on scene.tif in its CRS", fix)
    assert not (tmp_path / "m.tif").exists()
    given = crs
    if crs == ALBERS:  # what gdalsrsinfo writes: the image's CRS as WKT
        with rasterio.open(image) as src:
            (tmp_path / "scene.wkt").write_text(src.crs.to_wkt())
        given = tmp_path / "scene.wkt"
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--labels-crs",
                     given)
    assert result.exit_code == 0, result.output
    expected = np.zeros((40, 40), np.uint8)
    expected[6:20, 5:15] = 1
    with rasterio.open(tmp_path / "m.tif") as mask:
        np.testing.assert_array_equal(mask.read(1), expected)
