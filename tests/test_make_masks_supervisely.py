"""make-masks with Supervisely's annotation format as LABELS (geotile.supervisely_labels): a
project (meta.json, dataset folders of img/ and ann/), a dataset, an ann/ folder or one ann
file; each IMAGE paired with ann/<its name>.json; polygons (holes too), rectangles and
bitmaps burnt as Supervisely draws them (points are whole pixel indices, right and bottom
included), classes and ids from meta.json; evaluate against it as TRUTH; the refusals (one
line, nothing written)."""

from __future__ import annotations

import base64
import json
import math
import struct
import warnings
import zlib
from fractions import Fraction

import numpy as np
import pytest
from affine import Affine
from rasterio.transform import from_origin

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import (
    assert_evaluate_as_make_masks,
    plain_png,
    png_bytes,
    read_mask,
)

H, W = 40, 60
META = {"classes": [
    {"title": "building", "shape": "polygon", "color": "#FF0000", "id": 11},
    {"title": "car", "shape": "rectangle", "color": "#00FF00", "id": 12},
    {"title": "tree", "shape": "bitmap", "color": "#00AA00", "id": 13},
    {"title": "water", "shape": "any_shape", "color": "#0000FF", "id": 14},
    {"title": "road", "shape": "line", "color": "#888888", "id": 15},
    {"title": "__ignore__", "shape": "rectangle", "color": "#000000", "id": 16}],
    "tags": [], "projectType": "images"}
#: a building of whole pixels 5..20 x 5..15 with a hole 10..14 x 8..11 (right, bottom in)
HOUSE = {"exterior": [[5, 5], [20, 5], [20, 15], [5, 15]],
         "interior": [[[10, 8], [14, 8], [14, 11], [10, 11]]]}
#: a triangle, and the columns of each row cv2.fillPoly fills of it (rows 2..12)
TRIANGLE = [[30, 2], [40, 8], [31, 12]]
TRIANGLE_ROWS = {2: (30, 30), 3: (30, 32), 4: (30, 34), 5: (30, 35), 6: (30, 37),
                 7: (30, 39), 8: (31, 40), 9: (31, 38), 10: (31, 36), 11: (31, 34),
                 12: (31, 32)}


def _bitmap(mask: np.ndarray, origin, title="tree", encoded=None) -> dict:
    """A bitmap object as Supervisely's data_2_base64 writes it: a palette PNG (black,
    white), index 0 transparent, zlib-compressed, base64."""
    if encoded is None:
        encoded = zlib.compress(png_bytes(mask.astype(np.uint8), 3, [0, 0, 0, 255, 255, 255],
                                     [0]))
    return {"id": 7, "classTitle": title, "geometryType": "bitmap", "tags": [],
            "bitmap": {"data": base64.b64encode(encoded).decode(), "origin": origin}}


def _polygon(points, title="building", kind="polygon") -> dict:
    if isinstance(points, list):
        points = {"exterior": points, "interior": []}
    return {"id": 1, "classId": 11, "classTitle": title, "geometryType": kind, "tags": [],
            "points": points}


def _project(root, images: dict, meta=META, dataset="ds0", width=W, height=H,
             image=plain_png):
    """root/meta.json and root/<dataset>/{img,ann}: ``images`` {name: [objects]}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps(meta))
    for folder in ("ann", "img"):
        (root / dataset / folder).mkdir(parents=True, exist_ok=True)
    for name, objects in images.items():
        image(root / dataset / "img" / name, width, height)
        (root / dataset / "ann" / f"{name}.json").write_text(json.dumps(
            {"description": "", "tags": [], "size": {"height": height, "width": width},
             "objects": objects}))
    return root


def _expected_house() -> np.ndarray:
    expected = np.zeros((H, W), np.uint8)
    expected[5:16, 5:21] = 1
    expected[8:12, 10:15] = 0
    return expected


def test_project_burns_as_supervisely_draws(tmp_path, run_cli):
    """A project's polygon (its hole cleared with its outline), triangle (cv2.fillPoly's
    pixels), rectangle (right and bottom pixels in) and bitmap (exactly its pixels) on
    ids by meta.json's titles: its area classes, used or not (building 1, car 2, tree 3,
    water 4); an __ignore__ rectangle 255; a line left out with one warning."""
    tree = np.zeros((6, 7), bool)
    tree[1:5, 2:6] = True
    tree[0, 0] = True
    root = _project(tmp_path / "project", {"a.png": [
        _polygon(HOUSE), _polygon(TRIANGLE, "water"),
        _polygon([[35, 20], [44, 27]], "car", "rectangle"),
        _bitmap(tree, [48, 30]),
        _polygon([[0, 39], [59, 39]], "road", "line"),
        _polygon([[0, 30], [3, 33]], "__ignore__", "rectangle")]})
    out = tmp_path / "masks"
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    assert "1 line, point, graph or cuboid_2d object was left out (a.png.json objects[4])" \
        in result.stderr
    assert "class ids by name: 1 building, 2 car, 3 tree, 4 water" in result.stdout
    mask = read_mask(out / "a.tif")[0]
    expected = _expected_house()
    for row, (first, last) in TRIANGLE_ROWS.items():
        expected[row, first:last + 1] = 4
    expected[20:28, 35:45] = 2
    expected[30:36, 48:55][tree] = 3
    expected[30:34, 0:4] = 255
    np.testing.assert_array_equal(mask, expected)


def test_dataset_ann_folder_and_one_file_pair_by_image_name(tmp_path, run_cli):
    """LABELS a dataset, its ann/ folder or one ann file give one mask; a georeferenced
    image places it through its geotransform (its pixels still); the project takes each
    IMAGE's own dataset's ann where two datasets hold its name."""
    def geotiff(path, width, height):
        return write_raster(path, np.full((3, height, width), 80, np.uint8), UTM_CRS,
                            from_origin(500000, 4100000, 0.5, 0.5))

    root = _project(tmp_path / "p", {"a.tif": [_polygon(HOUSE)]}, image=geotiff)
    _project(root, {"a.tif": [_polygon([[0, 0], [3, 3]], "car", "rectangle")]},
             dataset="ds1", image=geotiff)
    image = root / "ds0" / "img" / "a.tif"
    for labels in (root / "ds0", root / "ds0" / "ann", root / "ds0" / "ann" / "a.tif.json",
                   root):
        out = tmp_path / "m.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--overwrite")
        assert result.exit_code == 0, result.output
        mask, profile, _, _ = read_mask(out)
        np.testing.assert_array_equal(mask, _expected_house())
        assert profile["transform"] == from_origin(500000, 4100000, 0.5, 0.5)
    result = run_cli("make-masks", root, root / "ds1" / "img", "-o", tmp_path / "m1.tif")
    assert result.exit_code == 0, result.output
    assert (read_mask(tmp_path / "m1.tif")[0] == 2).sum() == 16


@pytest.mark.parametrize("kind", ["rgba", "grey", "grey16", "grey_alpha", "rgb_trns",
                                  "uncompressed"])
def test_bitmap_encodings(tmp_path, run_cli, kind):
    """Bitmaps of other PNGs, read as Supervisely's base64_2_data reads them: the alpha of
    RGBA, grey-alpha and RGB with a transparent colour; grey values; an older bitmap's
    uncompressed PNG wherever a band is not 0."""
    inside = np.zeros((5, 8), bool)
    inside[1:4, 2:7] = True
    inside[4, 0] = True
    value = inside.astype(np.uint8)
    pngs = {
        "rgba": lambda: png_bytes(np.dstack([value * 0] * 3 + [value * 255]), 6),
        "grey": lambda: png_bytes(value * 9, 0),
        "grey16": lambda: png_bytes(value.astype(np.uint16) * 300, 0, depth=16),
        "grey_alpha": lambda: png_bytes(np.dstack([value * 0 + 7, value * 200]), 4),
        "rgb_trns": lambda: png_bytes(np.dstack([(1 - value) * 5] * 3), 2,
                                 transparency=[0, 5, 0, 5, 0, 5]),
        "uncompressed": lambda: None}
    png = pngs[kind]()
    encoded = (png_bytes(np.dstack([value * 255] * 3 + [value * 255]), 6)
               if kind == "uncompressed" else zlib.compress(png))
    root = _project(tmp_path / "p", {"a.png": [_bitmap(None, [3, 2], encoded=encoded)]})
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[2:7, 3:11][inside] = 3
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.tif")[0], expected)


def test_bitmap_bombs_refused_from_the_header(tmp_path, run_cli, monkeypatch):
    """A bitmap whose PNG header declares 100000 x 100000 px, and one whose zlib stream
    inflates to 200 MB behind a 4 x 4 header: one line each, nothing written, no PNG
    decoded and under 2 MB inflated (counted, not timed)."""
    from geotile import supervisely_bitmaps

    work = {"inflated": 0, "decoded": 0}

    class Inflater:
        def __init__(self, *args):
            self._inflater = real_decompressobj(*args)

        def decompress(self, *args):
            data = self._inflater.decompress(*args)
            work["inflated"] += len(data)
            return data

        def __getattr__(self, name):
            return getattr(self._inflater, name)

    def inflate(*args):
        data = real_decompress(*args)
        work["inflated"] += len(data)
        return data

    def decode(*args):
        work["decoded"] += 1
        return real_read_bands(*args)

    real_decompressobj, real_decompress = zlib.decompressobj, zlib.decompress
    real_read_bands = supervisely_bitmaps._read_bands
    monkeypatch.setattr(zlib, "decompressobj", Inflater)
    monkeypatch.setattr(zlib, "decompress", inflate)
    monkeypatch.setattr(supervisely_bitmaps, "_read_bands", decode)
    header = png_bytes(np.zeros((1, 1), np.uint8), 0)[:33]
    huge = header[:16] + struct.pack(">II", 100_000, 100_000) + header[24:]
    small = header[:16] + struct.pack(">II", 4, 4) + header[24:]
    bomb = zlib.compressobj(9)
    stream = bomb.compress(small) + b"".join(bomb.compress(bytes(1 << 24)) for _ in range(12))
    cases = {"huge": (zlib.compress(huge), "100000x100000 px at (0, 0), not within"),
             "bomb": (stream + bomb.flush(), "inflating past")}
    for name, (encoded, fragment) in cases.items():
        root = _project(tmp_path / name, {"a.png": [_bitmap(None, [0, 0], encoded=encoded)]})
        out = tmp_path / f"{name}.tif"
        work.update(inflated=0, decoded=0)
        result = run_cli("make-masks", root, root / "ds0" / "img" / "a.png", "-o", out)
        assert work["decoded"] == 0 and 0 < work["inflated"] < 2 << 20, (name, work)
        assert_one_line_error(result, "a.png.json: objects[0] ('tree')", fragment)
        assert not out.exists()


@pytest.mark.parametrize(("objects", "size", "fragments"), [
    ([], (50, 40), ["a.png: 60x40 px", "annotates an image of 50x40 px"]),
    ([_polygon(HOUSE, "boat")], (W, H), ["objects[0] is of class 'boat'", "meta.json"]),
    ([_polygon([[1, 1], [5, 5]])], (W, H), ["objects[0] ('building') is a polygon",
                                            "at least 3"]),
    ([_polygon([[1, 1], [5, 5], [1e400, 2]])], (W, H), ["not a finite number"]),
    ([_polygon([[1, 1], [5, 5], [True, 2]])], (W, H), ["has points"]),
    ([_polygon([[1, 1], [1e300, 5], [3, 30]])], (W, H), ["1e+300 px out, past any image"]),
    ([{**_polygon(HOUSE, "water"), "geometryType": "cuboid"}], (W, H),
     ["'cuboid' object", "Convert it"]),
    ([_bitmap(np.ones((3, 3), bool), [58, 0])], (W, H), ["3x3 px at (58, 0), not within"]),
    ([_bitmap(None, [0, 0], encoded=b"not a png")], (W, H), ["no PNG"]),
    # an integer past any float (JSON has no limit) was an OverflowError traceback
    ([_bitmap(np.ones((3, 3), bool), [10 ** 400, 0])], (W, H), ["bitmap of origin"]),
])
def test_refusals_are_one_line(tmp_path, run_cli, objects, size, fragments):
    root = _project(tmp_path / "p", {"a.png": objects})
    if size != (W, H):
        ann = root / "ds0" / "ann" / "a.png.json"
        ann.write_text(json.dumps({"size": {"width": size[0], "height": size[1]},
                                   "objects": objects}))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", root, root / "ds0" / "img" / "a.png", "-o", out)
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_far_and_outside_objects(tmp_path, run_cli):
    """A rectangle reaching 10 million px past the image on every side covers it all (as
    OpenCV clips it); a polygon wholly outside burns nothing, said in one warning."""
    root = _project(tmp_path / "p", {"a.png": [
        _polygon([[-10_000_000, -10_000_000], [10_000_000, 10_000_000]], "car", "rectangle"),
        _polygon([[100, 100], [120, 100], [110, 130]])]})
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    assert "1 object was left out (a.png.json objects[1]): they lie outside the image" \
        in result.stderr
    assert (read_mask(tmp_path / "m" / "a.tif")[0] == 2).all()


def test_without_meta_json_the_titles_are_the_classes(tmp_path, run_cli):
    """An ann/ folder without its project's meta.json: each object's geometryType says its
    shape, the titles its files hold are the classes (ids 1..N by sorted title)."""
    root = _project(tmp_path / "p", {"a.png": [
        _polygon([[35, 20], [44, 27]], "van", "rectangle"), _polygon(HOUSE, "house")]})
    (root / "meta.json").unlink()
    result = run_cli("make-masks", root / "ds0" / "ann", root / "ds0" / "img", "-o",
                     f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 house, 2 van" in result.stdout
    mask = read_mask(tmp_path / "m" / "a.tif")[0]
    assert (mask == 2).sum() == 80 and (mask == 1).sum() == 156


def test_an_image_without_its_annotation_is_refused(tmp_path, run_cli):
    root = _project(tmp_path / "p", {"a.png": []})
    other = plain_png(tmp_path / "b.png", W, H)
    result = run_cli("make-masks", root / "ds0" / "ann", other, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "b.png: no ann/b.png.json in", "a.png.json")


def test_polygons_agree_with_supervisely_draw():
    """geotile's polygons, burnt by the pixel-centre rule and with --all-touched, against
    Supervisely's own draw (cv2.fillPoly of the floored points) on random shapes within the
    image: the same pixels (skipped without OpenCV)."""
    cv2 = pytest.importorskip("cv2")
    from rasterio.features import rasterize

    from geotile.drawn_pixels import run_shapes
    from geotile.supervisely_labels import _drawn

    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(3, 12))
        t = np.sort(rng.uniform(0, 2 * np.pi, n))
        ring = rng.uniform(15, 25, 2) + rng.uniform(2, 14, (n, 1)) * np.c_[np.cos(t),
                                                                          np.sin(t)]
        drawn = np.zeros((H, W), np.uint8)
        cv2.fillPoly(drawn, [np.floor(ring).astype(np.int32)], 1)
        runs = _drawn([[("", "", np.floor(ring).astype(int).tolist(), [])]], (W, H))
        geometry = run_shapes(*(a.astype(np.int64) for a in runs), 1)[0]
        for all_touched in (False, True):
            ours = rasterize([geometry], out_shape=(H, W), dtype="uint8",
                             all_touched=all_touched)
            np.testing.assert_array_equal(ours, drawn)


def test_evaluate_against_a_project(tmp_path, run_cli):
    """evaluate TRUTH a Supervisely project: a prediction raster scores as make-masks' mask
    of its image; two predicted buildings against two touching polygons are 2 TP."""
    left, right = [[10, 10], [19, 10], [19, 29], [10, 29]], [[20, 10], [29, 10], [29, 29],
                                                            [20, 29]]
    root = _project(tmp_path / "p", {"img.png": [_polygon(left), _polygon(right)]})
    image = root / "ds0" / "img" / "img.png"
    assert_evaluate_as_make_masks(tmp_path, run_cli, root, image, W, H)


def test_multipolygon_parts_burn_as_polygons(tmp_path, run_cli):
    """Supervisely's multipolygon (a class of that shape, or an any_shape object): each of
    its "parts" drawn as a polygon (its holes cleared), the parts together one object."""
    meta = {**META, "classes": [*META["classes"],
                                {"title": "block", "shape": "multipolygon", "color": "#123456"}]}
    parts = [HOUSE, {"exterior": [[35, 20], [44, 20], [44, 27], [35, 27]], "interior": []}]
    root = _project(tmp_path / "p", {"a.png": [
        {"id": 3, "classTitle": "block", "geometryType": "multipolygon", "tags": [],
         "parts": parts},
        {"id": 4, "classTitle": "water", "geometryType": "multipolygon", "tags": [],
         "parts": [{"exterior": TRIANGLE}]}]}, meta=meta)
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 block, 2 building, 3 car, 4 tree, 5 water" in result.stdout
    expected = _expected_house()
    expected[20:28, 35:45] = 1
    for row, (first, last) in TRIANGLE_ROWS.items():
        expected[row, first:last + 1] = 5
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.tif")[0], expected)


def test_multipolygon_without_parts_is_refused(tmp_path, run_cli):
    root = _project(tmp_path / "p", {"a.png": [
        {"id": 3, "classTitle": "water", "geometryType": "multipolygon", "parts": []}]})
    out = tmp_path / "m"
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{out}/")
    assert_one_line_error(result, "a.png.json: objects[0]", "multipolygon", "parts")
    assert not out.exists()


def test_nested_dataset_under_a_parent_without_images(tmp_path, run_cli):
    """Supervisely 6.x nests datasets (<dataset>/datasets/<child>); a parent dataset of no
    images of its own may lack ann/ (an archive keeps no empty folder): its children are
    still the project's datasets."""
    root = _project(tmp_path / "p", {"a.png": [_polygon(HOUSE)]},
                    dataset="region/datasets/tile_a")
    assert not (root / "region" / "ann").exists()
    result = run_cli("make-masks", root, root / "region" / "datasets" / "tile_a" / "img",
                     "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.tif")[0], _expected_house())


def test_annotation_without_size_is_refused_naming_it(tmp_path, run_cli):
    root = _project(tmp_path / "p", {"a.png": [_polygon(HOUSE)]})
    ann = root / "ds0" / "ann" / "a.png.json"
    ann.write_text(json.dumps({"tags": [], "objects": [_polygon(HOUSE)]}))
    out = tmp_path / "m"
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{out}/")
    assert_one_line_error(result, "a.png.json", "no 'size'", "height", "width")
    assert not out.exists()


def _geotiff(transform):
    """An image writer for :func:`_project`: a UTM GeoTIFF on ``transform``."""
    def write(path, width, height):
        write_raster(path, np.full((height, width), 90, np.uint8), transform=transform)
    return write


@pytest.mark.parametrize("transform", [
    None, from_origin(523456.37, 4123456.71, 0.3, 0.3),
    from_origin(523456.37, 4123456.71, 0.3, 0.3) * Affine.rotation(30)],
    ids=["plain", "utm", "rotated"])
@pytest.mark.parametrize("all_touched", [[], ["--all-touched"]], ids=["centre", "touched"])
def test_all_touched_burns_exactly_the_drawn_pixels(tmp_path, run_cli, transform,
                                                    all_touched):
    """An 11 x 11 px square polygon, a rectangle, the triangle and a slanted polygon with a
    hole burn exactly the pixels Supervisely draws, with --all-touched as without, on a
    plain image, a UTM one and a rotated one: their outline pixels are drawn already, and
    no neighbour is added on any side (it added the row above, the column left and pixels
    the slanted edges crossed)."""
    slanted = {"exterior": [[3, 20], [25, 24], [17, 37], [5, 33]],
               "interior": [[[9, 26], [15, 27], [12, 31]]]}
    name = "a.png" if transform is None else "a.tif"
    root = _project(tmp_path / "p", {name: [
        _polygon([[5, 5], [15, 5], [15, 15], [5, 15]]), _polygon(TRIANGLE, "water"),
        _polygon([[45, 3], [52, 14]], "car", "rectangle"), _polygon(slanted)]},
        image=plain_png if transform is None else _geotiff(transform))
    out = tmp_path / "m"
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{out}/", *all_touched)
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[5:16, 5:16] = 1
    for row, (first, last) in TRIANGLE_ROWS.items():
        expected[row, first:last + 1] = 4
    expected[3:15, 45:53] = 2
    expected[_reference_pixels([slanted], W, H)[1:-1, 1:-1]] = 1
    np.testing.assert_array_equal(read_mask(out / "a.tif")[0], expected)


def _reference_ring(ring: np.ndarray, width: int, height: int) -> np.ndarray:
    """What cv2.fillPoly draws of one ring of whole pixels, on the pixels -1..width x
    -1..height, pixel by pixel: the centres inside it (even-odd, counting the edges a ray
    to the right crosses) and its edges' lines stepped from their left end."""
    columns, rows = np.meshgrid(np.arange(-1, width + 1), np.arange(-1, height + 1))
    inside = np.zeros(columns.shape, bool)
    drawn = np.zeros(columns.shape, bool)
    for (x0, y0), (x1, y1) in zip(ring.tolist(), np.roll(ring, -1, 0).tolist(), strict=True):
        if y0 != y1:  # crosses row y once for min <= y < max, at x0 + (y - y0) dx / dy
            crosses = (min(y0, y1) <= rows) & (rows < max(y0, y1))
            left, cross = (columns - x0) * (y1 - y0), (rows - y0) * (x1 - x0)
            inside ^= crosses & ((left < cross) if y1 > y0 else (left > cross))
        if x1 < x0:
            x0, y0, x1, y1 = x1, y1, x0, y0
        if x1 - x0 >= abs(y1 - y0):  # one pixel a column, the row rounded half to the start
            for x in range(x0, x1 + 1):
                y = Fraction(y0) + Fraction((x - x0) * (y1 - y0), max(x1 - x0, 1))
                y = math.ceil(y - Fraction(1, 2)) if y1 >= y0 else math.floor(y + Fraction(1, 2))
                if -1 <= x <= width and -1 <= y <= height:
                    drawn[y + 1, x + 1] = True
        else:  # one pixel a row, the column rounded half to the left
            for y in range(min(y0, y1), max(y0, y1) + 1):
                x = math.ceil(Fraction(x0) + Fraction((y - y0) * (x1 - x0), y1 - y0)
                              - Fraction(1, 2))
                if -1 <= x <= width and -1 <= y <= height:
                    drawn[y + 1, x + 1] = True
    return inside | drawn


def _reference_pixels(parts, width: int, height: int) -> np.ndarray:
    """What Supervisely draws of polygons (exterior less holes, one over the other) on the
    pixels -1..width x -1..height."""
    out = np.zeros((height + 2, width + 2), bool)
    for part in parts:
        pixels = _reference_ring(np.asarray(part["exterior"]), width, height)
        for hole in part.get("interior", []):
            pixels &= ~_reference_ring(np.asarray(hole), width, height)
        out |= pixels
    return out


def test_random_polygons_burn_the_drawn_pixels(tmp_path):
    """Random polygons, multipolygons (holes at times; rings crossing themselves, far
    vertices, a third crossing the image's edge) burn, by the pixel-centre rule and with
    --all-touched, exactly the pixels a plain pixel-by-pixel reference draws of them
    (:func:`_reference_pixels`) in the image and the ring of pixels round it."""
    from rasterio.features import rasterize

    from geotile.supervisely_labels import read_supervisely

    rng = np.random.default_rng(142)
    width, height = 30, 24

    def ring(at, scale):
        n = int(rng.integers(3, 10))
        if rng.random() < 0.2:  # crossing itself
            points = at + rng.uniform(-scale, scale, (n, 2))
        else:
            t = np.sort(rng.uniform(0, 2 * np.pi, n))
            points = at + rng.uniform(0.2, 1, (n, 1)) * scale * np.c_[np.cos(t), np.sin(t)]
        if rng.random() < 0.1:  # one vertex far out
            points[0] = rng.choice([-1, 1], 2) * rng.uniform(100, 5000, 2)
        return np.round(points).astype(int).tolist()

    objects, drawn = [], []
    for _ in range(120):
        at = rng.uniform(-4, [width + 4, height + 4]) if rng.random() < 0.35 else \
            rng.uniform(4, [width - 4, height - 4])
        scale = rng.uniform(0.5, 12)
        parts = [{"exterior": ring(at, scale),
                  "interior": [ring(at, scale / 3)] if rng.random() < 0.3 else []}
                 for _ in range(1 if rng.random() < 0.6 else int(rng.integers(2, 4)))]
        objects.append({**_polygon([], "water", "multipolygon"), "parts": parts})
        drawn.append(_reference_pixels(parts, width, height))
    root = _project(tmp_path / "p", {"a.png": objects}, width=width, height=height)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # those outside the image, left out
        found = read_supervisely(root, [root / "ds0" / "img" / "a.png"]).shapes[0]
    burnt = dict(zip(
        [p for p in range(len(objects)) if p not in found.slivers], found.geometries(),
        strict=True))
    grid = {"out_shape": (height + 2, width + 2), "transform": Affine.translation(-1, -1),
            "dtype": "uint8"}
    assert sum(pixels.any() for pixels in drawn) > 80
    for position, pixels in enumerate(drawn):
        assert (position in burnt) == pixels.any(), position
        if position in burnt:
            for all_touched in (False, True):
                np.testing.assert_array_equal(
                    rasterize([burnt[position]], all_touched=all_touched, **grid), pixels,
                    err_msg=f"objects[{position}], all_touched={all_touched}")


def test_a_class_the_map_lacks_is_refused_before_any_mask(tmp_path, run_cli):
    """Each image's shapes are placed as its mask is made, but a class --class-map lacks,
    in the last image only, is refused before the first mask is written."""
    root = _project(tmp_path / "p", {"a.png": [_polygon(HOUSE)],
                                     "b.png": [_polygon(HOUSE, "water")]})
    (tmp_path / "map.json").write_text(json.dumps({"building": 1}))
    result = run_cli("make-masks", root, root / "ds0" / "img", "--class-map",
                     tmp_path / "map.json", "-o", f"{tmp_path / 'm'}/")
    assert_one_line_error(result, "b.png.json: class 'water'", "not in the class map")
    assert not list((tmp_path / "m").glob("*.tif"))


# Supervisely's oriented_bbox (supervisely/geometry/oriented_bbox.py): "points" [[left, top],
# [right, bottom]] (whole pixels, floored; sorted), "angle" in radians, clockwise on the
# image; drawn as cv2.fillPoly of its corners turned about its centre ((top + bottom) // 2,
# (left + right) // 2), each floored (PointLocation). alpha_mask (geometry/alpha_mask.py):
# "bitmap" {"data", "origin"} as a bitmap's, its PNG read grey (cv2.IMREAD_GRAYSCALE: an
# alpha band dropped), a 0..255 opacity; its pixels are those of opacity > 0, as its
# get_mask and the instance masks of Supervisely's "Export as masks" draw it.
SHAPES = {"classes": [*META["classes"],
                      {"title": "boat", "shape": "oriented_bbox", "color": "#123456", "id": 17},
                      {"title": "smoke", "shape": "alpha_mask", "color": "#654321", "id": 18}],
          "tags": [], "projectType": "images"}


def _oriented(points, angle, title="boat") -> dict:
    box = {"id": 3, "classTitle": title, "geometryType": "oriented_bbox", "tags": [],
           "points": points}
    return box if angle is ... else {**box, "angle": angle}


def _alpha(pixels, origin, title="smoke", colour=0, compressed=True) -> dict:
    png = png_bytes(pixels, colour)
    encoded = zlib.compress(png) if compressed else png
    return {"id": 4, "classTitle": title, "geometryType": "alpha_mask", "tags": [],
            "bitmap": {"data": base64.b64encode(encoded).decode(), "origin": origin}}


def _turned_corners(points, angle) -> list[list[int]]:
    """OrientedBBox.calculate_rotated_corners, floored as its PointLocations."""
    (left, right), (top, bottom) = (sorted(math.floor(p[k]) for p in points) for k in (0, 1))
    cx, cy = (left + right) // 2, (top + bottom) // 2
    cos, sin = np.cos(angle), np.sin(angle)
    out = []
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        tx, ty = x - cx, y - cy
        out.append([math.floor(tx * cos - ty * sin + cx), math.floor(tx * sin + ty * cos + cy)])
    return out


def test_oriented_bboxes_and_alpha_masks_burn_as_supervisely_draws(tmp_path, run_cli):
    """An oriented_bbox of angle 0 (its right and bottom pixels in), one turned pi/2 (by
    hand: the 11 x 5 box 10..20 x 10..14 about (15, 12) covers columns 13..17, rows 7..17)
    and one turned 0.3 rad (cv2.fillPoly of its floored turned corners, by the reference
    drawing); an alpha mask of opacities 0, 1, 128, 255 at its origin: those above 0."""
    smoke = np.zeros((4, 6), np.uint8)
    smoke[0, 0], smoke[1, 1:5], smoke[2, 2], smoke[3, 5] = 1, 255, 128, 0
    root = _project(tmp_path / "p", {"a.png": [
        _oriented([[2, 30], [8.7, 33.2]], 0),
        _oriented([[20, 14], [10, 10]], math.pi / 2),
        _oriented([[35, 2], [55, 12]], 0.3),
        _alpha(smoke, [40, 30])]}, meta=SHAPES)
    result = run_cli("make-masks", root, root / "ds0" / "img", "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    # ids by sorted area title: boat 1, building 2, car 3, smoke 4, tree 5, water 6
    expected = np.zeros((H, W), np.uint8)
    expected[30:34, 2:9] = 1
    expected[7:18, 13:18] = 1
    turned = _turned_corners([[35, 2], [55, 12]], 0.3)
    expected[_reference_pixels([{"exterior": turned}], W, H)[1:-1, 1:-1]] = 1
    expected[30:34, 40:46][smoke > 0] = 4
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.tif")[0], expected)
    assert "1 boat, 2 building, 3 car, 4 smoke" in result.stdout, result.stdout
    assert "left out" not in result.stderr, result.stderr


def test_alpha_mask_encodings_and_a_utm_image(tmp_path, run_cli):
    """An alpha mask's grey band (grey and alpha: its alpha dropped, as cv2 reads it grey),
    an older uncompressed grey PNG, and one of no opacity (nothing burnt); on a UTM
    GeoTIFF without meta.json (each object's geometryType, titles as classes)."""
    grey = np.zeros((3, 3, 2), np.uint8)
    grey[0, 0], grey[1, 1], grey[2, 2] = [9, 0], [0, 255], [200, 200]
    old = np.zeros((2, 4), np.uint8)
    old[1, 1:3] = 3
    objects = [_alpha(grey, [5, 5], colour=4), _alpha(old, [20, 30], "mist", compressed=False),
               _alpha(np.zeros((2, 2), np.uint8), [0, 0], "mist"),
               _oriented([[50, 35], [53, 38]], -2 * math.pi, "boat")]
    (tmp_path / "ann").mkdir()
    (tmp_path / "img").mkdir()
    (tmp_path / "ann" / "a.tif.json").write_text(json.dumps(
        {"size": {"height": H, "width": W}, "objects": objects}))
    write_raster(tmp_path / "img" / "a.tif", np.ones((1, H, W), np.uint8), crs=UTM_CRS)
    result = run_cli("make-masks", tmp_path / "ann", tmp_path / "img" / "a.tif", "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = read_mask(tmp_path / "m.tif")
    expected = np.zeros((H, W), np.uint8)  # boat 1, mist 2, smoke 3
    expected[5, 5] = expected[7, 7] = 3
    expected[31, 21:23] = 2
    expected[35:39, 50:54] = 1
    np.testing.assert_array_equal(mask, expected)
    assert profile["crs"] == UTM_CRS


@pytest.mark.parametrize(("objects", "fragments"), [
    ([_oriented([[1, 1], [5, 5]], float("nan"))], ["objects[0] ('boat')", "angle nan"]),
    ([_oriented([[1, 1], [5, 5]], "0.5")], ["objects[0] ('boat')", "angle '0.5'"]),
    ([_oriented([[1, 1], [5, 5]], ...)], ["objects[0] ('boat')", "angle", "radians"]),
    ([_oriented([[1, 1], [5, 5], [3, 3]], 0.1)], ["objects[0] ('boat')", "3 point(s)"]),
    ([_oriented([[1, 1], [5, float("inf")]], 0.1)], ["objects[0] ('boat')", "finite"]),
    ([_alpha(np.ones((3, 3), np.uint8), [58, 0])], ["objects[0] ('smoke')",
                                                   "3x3 px at (58, 0), not within"]),
    ([{**_alpha(np.ones((3, 3), np.uint8), [0, 0]), "bitmap": {"data": "@@@", "origin": [0, 0]}}],
     ["objects[0] ('smoke')", "no PNG"]),
    ([_alpha(np.ones((3, 3, 3), np.uint8), [0, 0], colour=2)], ["objects[0] ('smoke')",
                                                               "grey"]),
    ([_alpha(np.ones((3, 3, 2), np.uint8), [0, 0], colour=4, compressed=False)],
     ["objects[0] ('smoke')", "grey"]),
])
def test_oriented_bbox_and_alpha_mask_refusals(tmp_path, run_cli, objects, fragments):
    root = _project(tmp_path / "p", {"a.png": objects}, meta=SHAPES)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", root, root / "ds0" / "img" / "a.png", "-o", out)
    assert_one_line_error(result, "a.png.json", *fragments)
    assert not out.exists()
