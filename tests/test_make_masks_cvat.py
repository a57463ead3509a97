"""make-masks with CVAT's "CVAT for images 1.1" XML (geotile.cvat_labels) as LABELS: one
annotations.xml of many images, each IMAGE paired with its <image> by name, shapes in its
pixels burnt by the pixel-centre rule (masks and ellipses exactly); classes from <meta>,
z_order, group_id, and the refusals (nothing written), hostile XML included."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
import shapely
from rasterio.features import rasterize

from tests.conftest import assert_one_line_error, write_raster
from tests.pixel_label_files import (
    FAR_DOWN,
    FAR_RIGHT,
    analytic_pixels,
    plain_png,
    read_mask,
    turned_jpeg,
)

H, W = 40, 60
ROWS, COLS = np.mgrid[0:H, 0:W]
X, Y = COLS + 0.5, ROWS + 0.5

HOUSE = [(5.2, 4.3), (25.7, 5.1), (22.4, 20.6), (6.1, 18.2)]
TREE = [(15.5, 10.5), (30.3, 10.1), (29.8, 16.6)]
MASK = np.array([[0, 1, 1, 1, 0, 0],
                 [1, 1, 1, 1, 1, 0],
                 [1, 1, 0, 1, 1, 1],
                 [0, 1, 1, 1, 1, 0]], dtype=np.uint8)


def cvat_rle(mask: np.ndarray) -> str:
    """CVAT's mask rle (cvat-core's mask2Rle): run lengths over the box's pixels row by row,
    the first a run of 0s (0 where the box starts with a set pixel)."""
    flat = mask.astype(bool).ravel()
    runs, value, count = [], False, 0
    for pixel in flat:
        if pixel == value:
            count += 1
        else:
            runs.append(count)
            value, count = pixel, 1
    runs.append(count)
    return ", ".join(map(str, runs))


def _points(xy) -> str:
    return ";".join(f"{x:.2f},{y:.2f}" for x, y in xy)


def polygon(label, xy, z=0, group=None) -> str:
    return (f'<polygon label="{label}" source="manual" occluded="0" points="{_points(xy)}" '
            f'z_order="{z}"' + (f' group_id="{group}"' if group else "")
            + '><attribute name="kind">x</attribute></polygon>')


def box(label, x0, y0, x1, y1, rotation=None, z=0) -> str:
    turn = f' rotation="{rotation}"' if rotation is not None else ""
    return (f'<box label="{label}" source="manual" occluded="0" xtl="{x0}" ytl="{y0}" '
            f'xbr="{x1}" ybr="{y1}"{turn} z_order="{z}"/>')


def mask(label, array, left, top, z=0) -> str:
    h, w = array.shape
    return (f'<mask label="{label}" source="manual" occluded="0" rle="{cvat_rle(array)}" '
            f'left="{left}" top="{top}" width="{w}" height="{h}" z_order="{z}"/>')


def ellipse(label, cx, cy, rx, ry, rotation=0.0, z=0) -> str:
    return (f'<ellipse label="{label}" source="manual" occluded="0" cx="{cx}" cy="{cy}" '
            f'rx="{rx}" ry="{ry}" rotation="{rotation}" z_order="{z}"/>')


NO_AREA = [
    '<polyline label="road" occluded="0" points="1.00,1.00;50.00,2.00" z_order="0"/>',
    '<points label="pole" occluded="0" points="33.00,3.00" z_order="0"/>',
    '<skeleton label="body" z_order="0"><points label="head" occluded="0" '
    'points="3.00,3.00"/></skeleton>',
    '<cuboid label="car" occluded="0" xtl1="1" ytl1="1" xbl1="1" ybl1="5" xtr1="5" ytr1="1" '
    'xbr1="5" ybr1="5" xtl2="2" ytl2="2" xbl2="2" ybl2="6" xtr2="6" ytr2="2" xbr2="6" '
    'ybr2="6" z_order="0"/>',
    '<tag label="cloudy" source="manual"/>',
]


def _labels(names) -> str:
    return "<labels>" + "".join(
        f"<label><name>{n}</name><color>#fa3253</color><type>{t}</type><attributes>"
        "<attribute><name>kind</name><input_type>text</input_type></attribute></attributes>"
        "</label>" for n, t in names) + "</labels>"


LABELS = [("house", "polygon"), ("tree", "any"), ("car", "rectangle"), ("water", "mask"),
          ("unused", "any"), ("road", "polyline"), ("pole", "points"), ("body", "skeleton"),
          ("cloudy", "tag")]


def write_cvat(path, images, labels=LABELS, project=False) -> None:
    """annotations.xml of ``images`` [(name, width, height, [shape xml...], extra attrs)]."""
    meta = (f"<project><name>p</name>{_labels(labels)}<tasks><task><id>3</id></task></tasks>"
            "</project>" if project else
            f"<task><id>3</id><name>t</name><mode>annotation</mode>{_labels(labels)}</task>")
    body = "".join(
        f'<image id="{i}" name="{name}" width="{w}" height="{h}"{extra}>' + "".join(shapes)
        + "</image>" for i, (name, w, h, shapes, extra) in enumerate(
            (*image, "")[:5] for image in images))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1'
                    f"</version><meta>{meta}<dumped>2024</dumped></meta>{body}</annotations>")


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def _polygon(xy) -> np.ndarray:
    return shapely.contains_xy(shapely.Polygon(xy), X, Y)


def _box(x0, y0, x1, y1) -> np.ndarray:
    xs, ys = X, Y
    return (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)


def _ellipse(cx, cy, rx, ry, degrees=0.0, xs=X, ys=Y) -> np.ndarray:
    t = np.radians(degrees)
    dx, dy = xs - cx, ys - cy
    return ((np.cos(t) * dx + np.sin(t) * dy) ** 2 / rx ** 2
            + (np.cos(t) * dy - np.sin(t) * dx) ** 2 / ry ** 2 <= 1)


def _at(array, left, top) -> np.ndarray:
    out = np.zeros((H, W), bool)
    out[top:top + array.shape[0], left:left + array.shape[1]] = array.astype(bool)
    return out


def _turned_box(x0, y0, x1, y1, degrees):
    """CVAT's RotatedBoxesToPolygons, written out."""
    import math

    cx, cy, a = x0 + (x1 - x0) / 2, y0 + (y1 - y0) / 2, math.radians(degrees)
    return [(cx + math.cos(a) * (x - cx) - math.sin(a) * (y - cy),
             cy + math.sin(a) * (x - cx) + math.cos(a) * (y - cy))
            for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]


def _scene():
    """The shapes of a.png and their expected mask: car 1, house 2, tree 3, unused 4,
    water 5 (ids by sorted name over the declared labels)."""
    shapes = [
        polygon("tree", TREE, z=1),  # first in the file, but above the house (z_order)
        polygon("house", HOUSE),
        box("car", 30.2, 22.7, 40.6, 30.3),
        box("car", 47.0, 20.5, 57.5, 27.5, rotation=30.0),
        ellipse("tree", 45.3, 10.2, 7.3, 4.1, rotation=20.0),
        mask("water", MASK, 3, 28),
        *NO_AREA,
    ]
    expected = np.zeros((H, W), np.uint8)
    expected[_polygon(HOUSE)] = 2
    expected[_polygon(TREE)] = 3
    expected[_box(30.2, 22.7, 40.6, 30.3)] = 1
    expected[_polygon(_turned_box(47.0, 20.5, 57.5, 27.5, 30.0))] = 1
    expected[_ellipse(45.3, 10.2, 7.3, 4.1, 20.0)] = 3
    expected[_at(MASK, 3, 28)] = 5
    return shapes, expected


NAMES = ["background", "car", "house", "tree", "unused", "water"]


def test_each_shape_pixel_exact_on_a_plain_png(tmp_path, run_cli):
    """polygon, box, rotated box, rotated ellipse and mask burnt by the pixel-centre rule,
    by z_order then file order; the five shapes of no area left out with one warning;
    classes the declared labels of area (unused too), ids by sorted name."""
    shapes, expected = _scene()
    write_cvat(tmp_path / "annotations.xml", [("train/a.png", W, H, shapes),
                                              ("train/b.png", W, H, [])])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "annotations.xml", image, "-o",
                     tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    bands, profile, tags, _ = read_mask(tmp_path / "m.tif", None)
    np.testing.assert_array_equal(bands[0], expected)
    assert profile["transform"].is_identity and profile["crs"] is None
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == NAMES
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["features"] == 6 and summary["labels"] == str(tmp_path / "annotations.xml")
    assert summary["positive_pixels"] == int((expected > 0).sum())
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1, result.stderr
    assert "5 polyline, points, skeleton, cuboid or tag annotations were" in left_out[0]
    assert "annotations.xml" in left_out[0]


def test_a_georeferenced_folder_of_images_resume_and_workers(tmp_path, run_cli):
    """GeoTIFFs take their pixels through their geotransform; an image without shapes is
    all background; --resume skips, --workers 2 gives byte-identical masks."""
    shapes, expected = _scene()
    write_cvat(tmp_path / "annotations.xml", [("a.tif", W, H, shapes), ("b.tif", W, H, [])])
    (tmp_path / "images").mkdir()
    for name in ("a.tif", "b.tif"):
        write_raster(tmp_path / "images" / name, np.ones((1, H, W), np.uint8),
                     crs="EPSG:32633")
    result = run_cli("make-masks", tmp_path / "annotations.xml", tmp_path / "images", "-o",
                     f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 car, 2 house, 3 tree, 4 unused, 5 water" in result.stdout
    np.testing.assert_array_equal(read_mask(tmp_path / "masks" / "a.tif")[0], expected)
    assert not read_mask(tmp_path / "masks" / "b.tif")[0].any()
    result = run_cli("make-masks", tmp_path / "annotations.xml", tmp_path / "images", "-o",
                     f"{tmp_path / 'masks'}/", "--resume", "--json")
    assert result.exit_code == 0, result.output
    assert all(m.get("skipped") for m in json.loads(result.stdout)["masks"])
    result = run_cli("make-masks", tmp_path / "annotations.xml", tmp_path / "images", "-o",
                     f"{tmp_path / 'w'}/", "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in ("a.tif", "b.tif"):
        assert (tmp_path / "w" / name).read_bytes() == (tmp_path / "masks" / name).read_bytes()


def test_a_square_on_pixel_edges_is_exactly_its_pixels(tmp_path, run_cli):
    """A square polygon and a box whose sides lie on pixel edges, and a mask: exactly
    their pixels, with --all-touched too (nothing past their edges)."""
    shapes = [polygon("a", [(2, 3), (6, 3), (6, 7), (2, 7)]), box("a", 10, 10, 13, 12),
              mask("a", MASK, 20, 20)]
    write_cvat(tmp_path / "x.xml", [("a.png", W, H, shapes)], labels=[("a", "any")])
    image = _png(tmp_path / "a.png")
    expected = np.zeros((H, W), np.uint8)
    expected[3:7, 2:6] = 1
    expected[10:12, 10:13] = 1
    expected[_at(MASK, 20, 20)] = 1
    for options in ((), ("--all-touched",)):
        out = tmp_path / f"m{len(options)}.tif"
        result = run_cli("make-masks", tmp_path / "x.xml", image, "-o", out, *options)
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(read_mask(out)[0], expected)


def test_cvat_rle_round_trips_and_box_corners_turn_as_cvat():
    """Random masks encoded by CVAT's algorithm decode to their pixels; a turned box's
    corners are CVAT's."""
    from geotile.cvat_labels import _mask, box_corners

    rng = np.random.default_rng(3)
    for _ in range(30):
        h, w = rng.integers(1, 12, 2)
        array = rng.random((h, w)) < 0.5
        left, top = rng.integers(0, 20, 2)
        attrs = {"rle": cvat_rle(array), "left": str(left), "top": str(top),
                 "width": str(w), "height": str(h)}
        shape = _mask("m", "a", attrs, (W, H))
        burnt = (rasterize([shape], out_shape=(H, W)).astype(bool) if shape is not None
                 else np.zeros((H, W), bool))
        np.testing.assert_array_equal(burnt, _at(array, left, top))
    for degrees in (0.0, 15.0, 90.0, -37.5, 200.0):
        np.testing.assert_allclose(box_corners(1.0, 2.0, 30.0, 40.0, degrees),
                                   _turned_box(1.0, 2.0, 30.0, 40.0, degrees), atol=1e-12)
    np.testing.assert_allclose(box_corners(0, 0, 4, 2, 90), [(3, -1), (3, 3), (1, 3), (1, -1)],
                               atol=1e-12)


def test_ellipses_are_pixel_exact_against_the_analytic_centre_rule():
    """Turned ellipses of any size and place burn exactly the pixels whose centre lies
    inside or on them; --all-touched burns those and more."""
    from geotile.labelme_labels import ellipse as shape_of

    size = 100
    rows, cols = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(5)
    cases = [(50.0, 50.0, 5.0, 5.0, 0.0), (50.5, 50.5, 6.0, 3.0, 0.0),
             (50.5, 50.5, 6.0, 3.0, 90.0), (40.0, 60.0, 0.3, 20.0, 45.0)]
    cases += [(*rng.uniform(20, 80, 2), *rng.uniform(0.2, 30, 2), rng.uniform(-180, 180))
              for _ in range(200)]
    for cx, cy, rx, ry, degrees in cases:
        shape = shape_of(cx, cy, rx, ry, math.radians(degrees))
        burnt = rasterize([shape], out_shape=(size, size)).astype(bool)
        analytic = _ellipse(cx, cy, rx, ry, degrees, cols + 0.5, rows + 0.5)
        np.testing.assert_array_equal(burnt, analytic, err_msg=f"{cx} {cy} {rx} {ry} {degrees}")
        touched = rasterize([shape], out_shape=(size, size), all_touched=True).astype(bool)
        assert (touched >= analytic).all()


def test_a_project_export_groups_and_names_with_folders(tmp_path, run_cli):
    """A project's export (labels under <project>, images with subset and task_id): an
    IMAGE takes the entry whose folders its path ends with; one group_id and label is one
    instance (no contact band between its parts)."""
    left, right = (5, 5, 15, 25), (18, 5, 28, 25)
    grouped = [polygon("house", _turned_box(*left, 0), group=4),
               polygon("house", _turned_box(*right, 0), group=4)]
    write_cvat(tmp_path / "annotations.xml", [
        ("val/img.png", W, H, grouped, ' subset="val" task_id="3"'),
        ("train/img.png", W, H, [polygon("house", HOUSE)], ' subset="train" task_id="4"')],
        labels=[("house", "polygon")], project=True)
    image = _png(tmp_path / "data" / "val" / "img.png")
    result = run_cli("make-masks", tmp_path / "annotations.xml", image, "-o",
                     tmp_path / "m.tif", "--channels", "footprint,contact")
    assert result.exit_code == 0, result.output
    bands = read_mask(tmp_path / "m.tif", None)[0]
    np.testing.assert_array_equal(bands[0], _box(*left) | _box(*right))
    assert not bands[1].any()
    other = _png(tmp_path / "data" / "train" / "img.png")
    result = run_cli("make-masks", tmp_path / "annotations.xml", other, "-o",
                     tmp_path / "t.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "t.tif")[0], _polygon(HOUSE))
    # an image whose path ends with neither: both named
    result = run_cli("make-masks", tmp_path / "annotations.xml", _png(tmp_path / "img.png"),
                     "-o", tmp_path / "n.tif")
    assert_one_line_error(result, "img.png", "val/img.png", "train/img.png", "task 3")
    assert not (tmp_path / "n.tif").exists()


#: bytes Python allocates at most to refuse a file, besides 4 times its size (streamed in
#: 1 MB chunks, its longest attribute held)
MOST_REFUSING = 4 << 20


def _refused(tmp_path, run_cli, text_or_shapes, *fragments, options=(), width=W, height=H):
    """make-masks of b.png (listed, one good polygon) and a.png: refused in one line,
    nothing written."""
    path = tmp_path / "annotations.xml"
    if isinstance(text_or_shapes, str):
        path.write_text(text_or_shapes)
    else:
        write_cvat(path, [("b.png", W, H, [polygon("house", HOUSE)]),
                          ("a.png", width, height, text_or_shapes)])
    images = [_png(tmp_path / "b.png"), _png(tmp_path / "a.png")]
    args = ("make-masks", path, *images, "-o", f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(run_cli(*args), *fragments)  # modules it imports: loaded
    tracemalloc.start()
    try:
        result = run_cli(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # refused before its shapes are decoded: Python's memory counted, not the seconds (the
    # 4 MB file of 1,000,001 points: 14 MB; its points split before they are counted: 25)
    assert peak < MOST_REFUSING + 4 * path.stat().st_size, (peak, path.stat().st_size)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("shapes, fragments", [
    ([polygon("a", [(1, 1), (5, 5)])], ("<polygon> #0", "3 points")),
    (['<polygon label="a" points="1,1;5,x;1,5"/>'], ("<polygon> #0", "points")),
    (['<polygon label="a" points="1,1;5,1e999;1,5"/>'], ("<polygon> #0", "finite")),
    (['<polygon label="" points="1,1;5,5;1,5"/>'], ("<polygon> #0", "label")),
    (['<polygon label="a" points="1,1;5,5;1,5" z_order="top"/>'], ("z_order",)),
    (['<box label="a" xtl="1" ytl="1" xbr="5"/>'], ("<box> #0", "ybr")),
    (['<ellipse label="a" cx="10" cy="10" rx="1e30" ry="2"/>'], ("ellipse", "radius")),
    ([mask("a", MASK, 58, 1)], ("<mask> #0", "not within")),
    (['<mask label="a" rle="1, 2" left="0" top="0" width="99999999" height="99999999"/>'],
     ("<mask> #0", "not within")),
    (['<mask label="a" rle="1, 2" left="0" top="0" width="3" height="3"/>'],
     ("<mask> #0", "covering 3 pixels", "9")),
    (['<mask label="a" rle="' + "9" * 5000 + '" left="0" top="0" width="3" height="3"/>'],
     ("<mask> #0", "rle")),
    (['<polygon label="a" points="' + ";".join(["1,1"] * 1_000_001) + '"/>'],
     ("1,000,001 points",)),
    (['<circle label="a"/>'], ("<circle>", "a.png")),
])
def test_broken_shapes_are_refused(tmp_path, run_cli, shapes, fragments):
    _refused(tmp_path, run_cli, shapes, "annotations.xml", *fragments)


def test_images_not_listed_or_of_another_size_are_refused(tmp_path, run_cli):
    _refused(tmp_path / "1", run_cli, [], "a.png", "60x40", "64x48", width=64, height=48)
    write_cvat(tmp_path / "2" / "annotations.xml", [("b.png", W, H, [])])
    images = [_png(tmp_path / "2" / "b.png"), _png(tmp_path / "2" / "a.png")]
    result = run_cli("make-masks", tmp_path / "2" / "annotations.xml", *images, "-o",
                     tmp_path / "2" / "out")
    assert_one_line_error(result, "a.png", "not in", "b.png")
    assert not (tmp_path / "2" / "out").exists()


@pytest.mark.parametrize("option", [("--class-field", "label"), ("--line-width", "2"),
                                    ("--layer", "x")])
def test_options_of_other_labels_are_refused(tmp_path, run_cli, option):
    _refused(tmp_path, run_cli, [], "CVAT", option[0], options=option)


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE annotations [<!ENTITY a "' + "ha" * 50 + '">'
          + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">'
                    for i in range(9))
          + ']><annotations><version>1.1</version><meta/><image id="0" name="a.png" '
          'width="60" height="40"><tag label="&j;"/></image></annotations>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE annotations [<!ENTITY x SYSTEM '
            '"file:///etc/passwd">]><annotations><version>1.1</version><meta/><image id="0" '
            'name="a.png" width="60" height="40"><tag label="&x;"/></image></annotations>')
VIDEO = ('<annotations><version>1.1</version><meta><task><mode>interpolation</mode></task>'
         '</meta><track id="0" label="car"><box frame="0" outside="0" xtl="1" ytl="1" '
         'xbr="5" ybr="5"/></track></annotations>')


@pytest.mark.parametrize("text, fragments", [
    (LAUGHS, ("declares XML entities",)), (EXTERNAL, ("declares XML entities",)),
    (VIDEO, ("CVAT for images 1.1",)),
    ('<annotations><version>1.1</version><meta/><image id="0" name="a.png"',
     ("not well-formed",)),
    ("<annotations><version>1.1</version>" + "<meta>" * 100_000, ("nested",)),
])
def test_hostile_and_other_files_are_refused_early(tmp_path, run_cli, text, fragments):
    """A billion-laughs bomb and an external entity refused at their declaration, before any
    expansion (expat's own limit would say 'not well-formed'), a video export, a cut file
    and deep nesting: one line, in a few MB of Python's memory."""
    _refused(tmp_path, run_cli, text, "annotations.xml", *fragments)


def test_a_photo_turned_by_exif_is_refused(tmp_path, run_cli):
    turned_jpeg(tmp_path / "a.jpg", W, H)
    write_cvat(tmp_path / "annotations.xml", [("a.jpg", H, W, [polygon("house", HOUSE)])])
    result = run_cli("make-masks", tmp_path / "annotations.xml", tmp_path / "a.jpg", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg", "EXIF orientation (6)", "CVAT")
    assert not (tmp_path / "m.tif").exists()


def test_other_commands_say_make_masks_takes_cvat(tmp_path, run_cli):
    write_cvat(tmp_path / "annotations.xml", [("a.png", W, H, [polygon("house", HOUSE)])])
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", tmp_path / "annotations.xml", "-o",
                     tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "annotations.xml", "CVAT", "make-masks")


@pytest.mark.parametrize("all_touched", [False, True])
def test_polygons_reaching_far_past_the_image_burn_exactly_their_pixels(tmp_path, run_cli,
                                                                       all_touched):
    """One vertex 1e12 px to the right, one 3e9 px below a UTM GeoTIFF: each polygon's pixels
    of the image, by pixel centre and all touched (GDAL's burn overflowed past 2**31 px: 18
    of the first's 162 pixels, none of the second's, exit 0)."""
    write_cvat(tmp_path / "annotations.xml", [("img.tif", W, H, [
        polygon("house", FAR_RIGHT), polygon("house", FAR_DOWN)])], labels=[("house", "polygon")])
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8), crs="EPSG:32633")
    result = run_cli("make-masks", tmp_path / "annotations.xml", image, "-o", tmp_path / "m.tif",
                     *(["--all-touched"] if all_touched else []))
    assert result.exit_code == 0, result.output
    expected = analytic_pixels([FAR_RIGHT, FAR_DOWN], H, W, all_touched)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected.astype(np.uint8))


def test_a_self_crossing_polygon_burns_both_of_its_parts(tmp_path, run_cli):
    """A bow tie (its outline crossing itself) is repaired into its two triangles."""
    bow = [(10.2, 30.1), (20.3, 38.2), (20.1, 30.4), (10.4, 38.3)]
    write_cvat(tmp_path / "x.xml", [("a.png", W, H, [polygon("a", bow)])],
               labels=[("a", "polygon")])
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", tmp_path / "x.xml", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = shapely.contains_xy(shapely.make_valid(shapely.Polygon(bow)), X, Y)
    assert expected[:, :15].any() and expected[:, 16:].any()
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


def test_a_mask_box_reaching_the_last_pixel_is_burnt_one_past_it_refused(tmp_path, run_cli):
    """A mask's box may end on the image's right and bottom edges (burnt exactly there);
    one pixel past either is refused."""
    h, w = MASK.shape
    write_cvat(tmp_path / "x.xml", [("a.png", W, H, [mask("water", MASK, W - w, H - h)])])
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", tmp_path / "x.xml", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[H - h:, W - w:] = MASK * 5  # water: 5th of the declared labels by name
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)
    for left, top in ((W - w + 1, H - h), (W - w, H - h + 1)):
        _refused(tmp_path / f"{left}_{top}", run_cli, [mask("water", MASK, left, top)],
                 "<mask> #0", f"{w}x{h} px at ({left}, {top})", "not within", f"{W}x{H}")


def test_a_turned_photo_without_shapes_takes_the_size_cvat_shows(tmp_path, run_cli):
    """A JPEG turned by its EXIF orientation (6: a quarter turn) with no shapes is all
    background; CVAT gives it the turned size (its height x width), which fits."""
    turned_jpeg(tmp_path / "a.jpg", W, H)
    write_cvat(tmp_path / "annotations.xml", [("a.jpg", H, W, [])])
    result = run_cli("make-masks", tmp_path / "annotations.xml", tmp_path / "a.jpg", "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    band = read_mask(tmp_path / "m.tif")[0]
    assert band.shape == (H, W) and not band.any()


def test_nesting_just_past_the_limit_is_refused(tmp_path, run_cli):
    """64 elements deep is refused (CVAT nests about 10 deep), naming the limit."""
    text = ('<annotations><version>1.1</version><meta/><image id="0" name="a.png" '
            'width="60" height="40"><tag label="x">' + "<a>" * 62 + "</a>" * 62
            + "</tag></image></annotations>")
    _refused(tmp_path, run_cli, text, "annotations.xml", "nested over 64 deep")


def test_ignore_shapes_are_255_and_no_class(tmp_path, run_cli):
    """``__ignore__`` (declared or not) is burnt 255, as Labelme's, and takes no class id:
    the other labels keep theirs, 1..N by sorted name."""
    shapes = [polygon("tree", TREE), polygon("__ignore__", HOUSE, z=1)]
    write_cvat(tmp_path / "x.xml", [("a.png", W, H, shapes)],
               labels=[("__ignore__", "polygon"), ("tree", "polygon"), ("house", "polygon")])
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", tmp_path / "x.xml", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    bands, _, tags, _ = read_mask(tmp_path / "m.tif", None)
    expected = np.zeros((H, W), np.uint8)
    expected[_polygon(TREE)] = 2
    expected[_polygon(HOUSE)] = 255
    np.testing.assert_array_equal(bands[0], expected)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "house", "tree"]


def test_an_export_re_saved_in_a_windows_code_page_is_refused_saying_so(tmp_path, run_cli):
    """annotations.xml re-saved by a Windows editor in cp1252 (a label 'Straße' as the byte
    0xDF, the declaration still utf-8) was refused as "not well-formed XML (not well-formed
    (invalid token) ...)"; now the line says it is not UTF-8 and how to convert it."""
    path = tmp_path / "annotations.xml"
    write_cvat(path, [("a.png", W, H, [polygon("Straße", HOUSE)])],
               labels=[("Straße", "polygon")])
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1252"))
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "annotations.xml", "not UTF-8", "byte 0xDF", "iconv")
    assert not (tmp_path / "m.tif").exists()
