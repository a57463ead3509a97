"""make-masks and evaluate with DOTA's labelTxt as LABELS / TRUTH (geotile.dota_labels): a
DOTA root (images/, labelTxt/), its labelTxt folder, a pattern or one file; each
quadrilateral's corners taken as pixel centres (DOTA_devkit's) and burnt as the pixels whose
centre lies inside or on it, on plain and georeferenced images; the files' variants
(headers, CRLF, BOM, 9 columns), bow-ties and slivers, difficult objects (burnt by
make-masks, ignored by evaluate), YOLO's .txt still YOLO's, and the refusals (one line,
exit 1, nothing written)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from tests.conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster
from tests.pixel_label_files import plain_png, read_mask

H, W = 48, 64
ROWS, COLS = np.mgrid[0:H, 0:W]

#: (corners x1 y1 ... x4 y4, category, difficult) in DOTA's pixel coordinates
PLANE = ([4.3, 3.2, 20.6, 5.9, 18.1, 17.4, 2.2, 14.8], "plane", 0)
TANK = ([30, 6, 40, 6, 40, 16, 30, 16], "storage-tank", 0)  # whole pixels: edges on centres
TRUCK = ([12.5, 20.25, 28.75, 24.5, 26.1, 31.9, 10.4, 27.3], "large-vehicle", 0)
CAR = ([44.2, 30.1, 50.9, 32.3, 49.1, 37.6, 42.7, 35.2], "small-vehicle", 1)  # difficult
ON_PLANE = ([14, 8, 24, 8, 24, 12, 14, 12], "small-vehicle", 0)  # later: on top


def _line(corners, name, difficult, columns=10) -> str:
    text = " ".join(f"{v:g}" for v in corners) + f" {name}"
    return text + (f" {difficult}" if columns == 10 else "")


def _txt(path, objects, header=("imagesource:GoogleEarth", "gsd:0.146343590398"),
         newline="\n", bom=False, columns=10) -> str:
    lines = [*header, *(_line(*o, columns=columns) for o in objects)]
    text = newline.join(lines) + (newline if lines else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return text


def _inside(corners) -> np.ndarray:
    """The reference: pixels whose centre (DOTA's (column, row)) is inside or on the
    quadrilateral."""
    quad = shapely.Polygon(np.reshape(corners, (4, 2)))
    return shapely.intersects_xy(quad, COLS, ROWS)


def _expected(objects, ids) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    for corners, name, _ in objects:
        mask[_inside(corners)] = ids[name]
    return mask


def _root(tmp_path, labels: dict[str, list], make_images=True):
    root = tmp_path / "DOTA"
    for stem, objects in labels.items():
        _txt(root / "labelTxt" / f"{stem}.txt", objects)
        if make_images:
            plain_png(root / "images" / f"{stem}.png", W, H)
    return root


IDS = {"large-vehicle": 1, "plane": 2, "ship": 3, "small-vehicle": 4, "storage-tank": 5}


def test_dota_root_burns_quadrilaterals_on_pixel_centres(tmp_path, run_cli):
    """A DOTA root: each image's quadrilaterals burnt as the pixels whose centre is inside
    or on them (whole-pixel edges included), later on top, difficult as its class; ids by
    sorted category over every file (ship of an image not given too); an empty file is a
    negative image."""
    objects = [PLANE, TANK, TRUCK, CAR, ON_PLANE]
    root = _root(tmp_path, {"P0001": objects, "P0002": []})
    _txt(root / "labelTxt" / "P0003.txt", [([1, 1, 5, 1, 5, 5, 1, 5], "ship", 0)])
    out = tmp_path / "masks"
    result = run_cli("make-masks", root, root / "images", "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    assert ("class ids by name: 1 large-vehicle, 2 plane, 3 ship, 4 small-vehicle, "
            "5 storage-tank") in result.stdout
    assert "1 of 2 images have no region to burn in DOTA" in result.stdout
    mask = read_mask(out / "P0001.tif")[0]
    np.testing.assert_array_equal(mask, _expected(objects, IDS))
    assert (mask == 5).sum() == 11 * 11  # 30..40 both ends: its edges on pixel centres
    assert not read_mask(out / "P0002.tif")[0].any()
    again = run_cli("make-masks", root, root / "images", "-o", f"{out}/", "--resume")
    assert again.exit_code == 0, again.output
    assert again.stdout.count("complete from an earlier run, skipped") == 2


def test_other_commands_say_make_masks_takes_dota(tmp_path, run_cli):
    """A labelTxt folder given as vector labels (tile --labels) is refused in one line
    saying make-masks takes it."""
    root = _root(tmp_path, {"a": [PLANE]}, make_images=False)
    image = write_raster(tmp_path / "a.tif", np.ones((3, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", root / "labelTxt", "--annotations", "coco",
                     "-o", tmp_path / "patches")
    assert_one_line_error(result, "DOTA's labelTxt", "make-masks takes them")


def test_utm_image_is_placed_through_its_geotransform(tmp_path, run_cli):
    """A georeferenced image (UTM, 0.5 m): the mask on its grid, of its CRS, pixels as on a
    plain one; the labelTxt folder and a pattern of its files are the same LABELS."""
    root = tmp_path / "DOTA"
    _txt(root / "labelTxt" / "scene.txt", [PLANE, TRUCK])
    transform = from_origin(*UTM_ORIGIN, 0.5, 0.5)
    (root / "images").mkdir()
    image = write_raster(root / "images" / "scene.tif", np.ones((3, H, W), np.uint8),
                         crs=UTM_CRS, transform=transform)
    expected = _expected([PLANE, TRUCK], {"large-vehicle": 1, "plane": 2})
    for labels in (root / "labelTxt", f"{root}/labelTxt/*.txt",
                   root / "labelTxt" / "scene.txt"):
        out = tmp_path / "out.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--overwrite")
        assert result.exit_code == 0, result.output
        mask, profile, _, _ = read_mask(out)
        assert profile["crs"].to_string() == UTM_CRS
        assert profile["transform"] == transform
        np.testing.assert_array_equal(mask, expected)


def test_file_variants_read_alike(tmp_path, run_cli):
    """Without header, gsd:null and other header lines, CRLF, a UTF-8 BOM, trailing spaces
    and tabs, 9 columns (no difficult): the same mask."""
    objects = [PLANE, TRUCK]
    expected = _expected(objects, {"large-vehicle": 1, "plane": 2})
    variants = [
        {"header": ()},
        {"header": ("imagesource:GoogleEarth", "gsd:null", "acquisition dates:None")},
        {"newline": "\r\n", "bom": True},
        {"columns": 9, "header": ("gsd:None",)},
    ]
    for number, variant in enumerate(variants):
        folder = tmp_path / str(number)
        _txt(folder / "labelTxt" / "a.txt", objects, **variant)
        image = plain_png(folder / "images" / "a.png", W, H)
        out = folder / "a.tif"
        result = run_cli("make-masks", folder, image, "-o", out)
        assert result.exit_code == 0, (variant, result.output)
        np.testing.assert_array_equal(read_mask(out)[0], expected)
    spaced = tmp_path / "spaced"
    text = "".join(f"{_line(*o)}  \t \n\n" for o in objects)
    (spaced / "labelTxt").mkdir(parents=True)
    (spaced / "labelTxt" / "a.txt").write_text(text)
    image = plain_png(spaced / "images" / "a.png", W, H)
    result = run_cli("make-masks", spaced, image, "-o", spaced / "a.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(spaced / "a.tif")[0], expected)


def test_bow_ties_burn_their_hull_and_slivers_are_left_out(tmp_path, run_cli):
    """Corners out of order (a bow-tie) burn as the box they outline, with one warning
    counting them; corners on one line are left out, with one warning."""
    box = [6, 6, 26, 6, 26, 20, 6, 20]
    bow_tie = [6, 6, 26, 6, 6, 20, 26, 20]
    flat = [30, 30, 40, 30, 50, 30, 35, 30]
    root = _root(tmp_path, {"a": [(bow_tie, "plane", 0), (bow_tie, "plane", 0),
                                  (flat, "ship", 0)]})
    out = tmp_path / "a.tif"
    result = run_cli("make-masks", root, root / "images" / "a.png", "-o", out)
    assert result.exit_code == 0, result.output
    assert ("2 quadrilaterals cross themselves (corners out of order) and were burnt as the "
            "convex hull of their corners (a.txt line 3 first)") in result.stderr
    assert "1 object has no area (corners on one line) and was left out (a.txt line 5)" \
        in result.stderr
    np.testing.assert_array_equal(read_mask(out)[0], _inside(box).astype(np.uint8))


def test_all_touched_and_class_map(tmp_path, run_cli):
    """--all-touched burns every pixel the quadrilateral touches (its corners moved onto
    the grid: pixel centres); --class-map maps category names."""
    root = _root(tmp_path, {"a": [PLANE, TRUCK]})
    out = tmp_path / "a.tif"
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"plane": 7, "large-vehicle": 3}))
    result = run_cli("make-masks", root, root / "images" / "a.png", "-o", out,
                     "--all-touched", "--class-map", mapping)
    assert result.exit_code == 0, result.output
    mask = read_mask(out)[0]
    touched = np.zeros((H, W), np.uint8)
    for corners, value in ((PLANE[0], 7), (TRUCK[0], 3)):
        quad = shapely.Polygon(np.reshape(corners, (4, 2)) + 0.5)
        boxes = shapely.box(COLS, ROWS, COLS + 1, ROWS + 1)
        touched[shapely.intersects(quad, boxes)] = value
    np.testing.assert_array_equal(mask, touched)


def test_yolo_folders_stay_yolo(tmp_path, run_cli):
    """A folder of YOLO .txt is read as YOLO's (fractions, class indices), not DOTA's; a
    DOTA file among them is refused naming both formats."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n")
    image = plain_png(tmp_path / "images" / "a.png", W, H)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "a.tif")[0].sum() > 0
    assert "class_0" in result.stderr
    (labels / "b.txt").write_text(_line(*PLANE) + "\n")
    other = plain_png(tmp_path / "images" / "b.png", W, H)
    result = run_cli("make-masks", labels, image, other, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "b.txt line 1", "looks like DOTA's labelTxt",
                          "first label file of these labels is YOLO's")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("line", "fragments"), [
    ("1 2 3 4 5 6 7 plane 0", ["a.txt line 3", "7 numbers before the category 'plane'"]),
    ("1 2 3 4 5 6 7 nan plane 0", ["a.txt line 3", "'nan', not a finite number"]),
    ("1 2 3 4 5 six 7 8 plane 0", ["a.txt line 3", "'six' is not a number"]),
    ("1 2 3 4 5 6 7 8 plane hard", ["a.txt line 3", "difficult is 'hard'"]),
    ("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5",
     ["a.txt line 3", "no category", "looks like a YOLO line"]),
    ("1 2 3 4 5 6 7 8 plane 0 extra", ["a.txt line 3", "more than 10 fields"]),
    # past 2**24 px: GDAL burnt a quadrilateral reaching 1e12 px as 46 of its 108 pixels
    ("2 2 1e12 5 1e12 5.1 2 8 plane 0", ["a.txt line 3", "1e+12 px", "16777216 px"]),
    ("2 2 3 2 3 3 -2e7 3 plane 0", ["a.txt line 3", "2e+07 px", "16777216 px"]),
])
def test_malformed_lines_are_refused(tmp_path, run_cli, line, fragments):
    root = _root(tmp_path, {"a": [PLANE]})
    path = root / "labelTxt" / "a.txt"
    path.write_text(f"{_line(*PLANE)}\n{_line(*TRUCK)}\n{line}\n")
    out = tmp_path / "masks"
    result = run_cli("make-masks", root, root / "images", "-o", f"{out}/")
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_a_quadrilateral_reaching_2_24_px_burns_its_part_in_the_image(tmp_path, run_cli):
    """Corners 2**24 px right of the image (GDAL burns such far coordinates right up to
    2**31): the pixels whose centre the quadrilateral holds."""
    far = 1 << 24
    corners = [2, 2.3, far, 5.3, far, 5.4, 2, 7.6]  # no centre within GROW of an edge
    root = _root(tmp_path, {"a": [(corners, "plane", 0)]})
    result = run_cli("make-masks", root, root / "images", "-o", f"{tmp_path / 'm'}/")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.tif")[0],
                                  _inside(corners).astype(np.uint8))


def test_pairing_refusals(tmp_path, run_cli):
    """An IMAGE without its .txt, and one file given for two IMAGEs: one line, exit 1."""
    root = _root(tmp_path, {"a": [PLANE]})
    extra = plain_png(root / "images" / "b.png", W, H)
    result = run_cli("make-masks", root, root / "images", "-o", f"{tmp_path / 'm'}/")
    assert_one_line_error(result, "b.png: no b.txt in", "DOTA gives every image its label "
                          "file")
    result = run_cli("make-masks", root / "labelTxt" / "a.txt", root / "images" / "a.png",
                     extra, "-o", f"{tmp_path / 'm'}/")
    assert_one_line_error(result, "DOTA's labels of one image, but 2 IMAGEs")
    assert not (tmp_path / "m").exists()


def _prediction(path, pixels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                           dtype="uint8") as dst:
            dst.write(pixels[None])
    return path


def test_evaluate_ignores_difficult_objects(tmp_path, run_cli):
    """evaluate TRUTH a DOTA root: a prediction of the easy plane only scores IoU 1 (the
    difficult one is a region to ignore, as DOTA's evaluation ignores it), while make-masks'
    mask (difficult burnt) makes it a miss; folder of predictions paired by name
    (<stem>_pred.tif)."""
    easy = ([4, 4, 20, 4, 20, 16, 4, 16], "plane", 0)
    hard = ([30, 20, 44, 20, 44, 30, 30, 30], "plane", 1)
    root = _root(tmp_path, {"P0001": [easy, hard]})
    predicted = _inside(easy[0]).astype(np.uint8)
    preds = tmp_path / "preds"
    preds.mkdir()
    pred = _prediction(preds / "P0001_pred.tif", predicted)
    direct = run_cli("evaluate", pred, root, "--json")
    assert direct.exit_code == 0, direct.output
    scores = json.loads(direct.stdout)
    assert scores["classes"][1]["class"] == "plane"
    assert scores["classes"][1]["iou"] == 1.0
    folder = run_cli("evaluate", preds, root / "labelTxt", "--json")
    assert folder.exit_code == 0, folder.output
    assert json.loads(folder.stdout)["classes"][1]["iou"] == 1.0
    made = run_cli("make-masks", root, root / "images" / "P0001.png", "-o",
                   tmp_path / "mask.tif")
    assert made.exit_code == 0, made.output
    burnt = run_cli("evaluate", pred, tmp_path / "mask.tif", "--json")
    assert burnt.exit_code == 0, burnt.output
    assert json.loads(burnt.stdout)["classes"][1]["iou"] == pytest.approx(
        _inside(easy[0]).sum() / (_inside(easy[0]).sum() + _inside(hard[0]).sum()))
