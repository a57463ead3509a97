"""Shared builders of the make-masks tests of labels in each image's pixels (COCO, YOLO,
Labelme): a plain PNG without georeference, a mask read back, and tile's patches of a
georeferenced scene with several classes and holes, whose mask patches make-masks must
give back pixel for pixel from tile's own annotations."""

from __future__ import annotations

import json
import struct
import warnings
import zlib

import numpy as np
import rasterio
import shapely
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from tests.conftest import write_raster


def plain_png(path, width: int, height: int):
    """A grey 3-band PNG of ``width`` x ``height`` without georeference."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(path, "w", driver="PNG", width=width, height=height, count=3,
                           dtype="uint8") as dst:
            dst.write(np.full((3, height, width), 90, np.uint8))
    return path


def read_mask(path, band: int | None = 1):
    """(pixels of ``band``, or all bands with None; profile; tags; descriptions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as src:
            return src.read(band), src.profile, src.tags(), src.descriptions


def tiled_scene(tmp_path, run_cli, annotations: str):
    """tmp_path/patches: tile --annotations ``annotations`` of a 128 px UTM scene of 30
    buildings of two classes (house, shed), some with holes, in 16 patches of 32 px."""
    rng = np.random.default_rng(1)
    transform = from_origin(500000.3, 4100000.7, 0.3, 0.3)
    image = write_raster(tmp_path / "img.tif", rng.integers(1, 255, (3, 128, 128), np.uint8),
                         crs="EPSG:32633", transform=transform)
    features = []
    for i in range(30):
        cx, cy = rng.uniform(0, 128, 2)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
        radii = rng.uniform(3, 12, 6)
        ring = [transform * (cx + r * np.cos(a), cy + r * np.sin(a))
                for a, r in zip(angles, radii, strict=True)]
        shape = shapely.make_valid(shapely.Polygon(ring))
        if i % 5 == 0:
            shape = shape.difference(shapely.Point(transform * (cx, cy)).buffer(0.6))
        features.append({"type": "Feature", "properties": {"kind": ["house", "shed"][i % 2]},
                         "geometry": shapely.geometry.mapping(shape)})
    vector = tmp_path / "l.geojson"
    vector.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": features}))
    assert run_cli("make-masks", vector, image, "-o", tmp_path / "mask.tif", "--class-field",
                   "kind").exit_code == 0
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "--labels", vector,
                     "--class-field", "kind", "--annotations", annotations, "--size", "32",
                     "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    return tmp_path / "patches"


def assert_masks_given_back(patches, back) -> None:
    """The 16 mask patches of ``patches``, pixel for pixel, grid and class names, in
    ``back``."""
    tiled = sorted((patches / "masks").glob("*.tif"))
    assert len(tiled) == 16
    for path in tiled:
        mask, profile, tags, _ = read_mask(path)
        again, again_profile, again_tags, _ = read_mask(back / path.name)
        np.testing.assert_array_equal(again, mask)
        assert again_profile["transform"] == profile["transform"]
        assert again_profile["crs"] == profile["crs"]
        assert again_tags["GEOTILE_CLASS_NAMES"] == tags["GEOTILE_CLASS_NAMES"]


def turned_jpeg(path, width: int, height: int, orientation: str = "6"):
    """A grey JPEG of ``width`` x ``height`` stored pixels whose EXIF orientation (6) has
    viewers (Labelme, Ultralytics) turn it a quarter: ``height`` x ``width`` as they see it
    (3: upside down, ``width`` x ``height``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="JPEG", width=width, height=height, count=3,
                           dtype="uint8") as dst:
            dst.write(np.full((3, height, width), 90, np.uint8))
            dst.update_tags(EXIF_Orientation=orientation)
    return path


def assert_evaluate_as_make_masks(tmp_path, run_cli, truth, image, width: int,
                                  height: int) -> None:
    """evaluate TRUTH ``truth`` (two touching 10 x 20 px buildings at x 10-19 and 20-29,
    y 10-29 of ``image``): a prediction raster scores as make-masks' mask of ``image``, and
    two predicted buildings against the two polygons are 2 TP."""
    prediction = np.zeros((height, width), np.uint8)
    prediction[10:30, 10:28] = 1
    pred = tmp_path / "img.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(pred, "w", driver="GTiff", width=width, height=height, count=1,
                           dtype="uint8") as dst:
            dst.write(prediction[None])
    direct = run_cli("evaluate", pred, truth, "--json")
    assert direct.exit_code == 0, direct.output
    made = run_cli("make-masks", truth, image, "-o", tmp_path / "mask.tif")
    assert made.exit_code == 0, made.output
    via_mask = run_cli("evaluate", pred, tmp_path / "mask.tif", "--json")
    scores = json.loads(direct.stdout)
    assert scores == json.loads(via_mask.stdout)
    assert scores["classes"][1]["class"] == "building"
    assert scores["classes"][1]["iou"] == 360 / 400
    vectors = tmp_path / "img.geojson"
    vectors.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"class": "building"}, "geometry": {
            "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                [x0, y0]]]}}
        for x0, y0, x1, y1 in ((10, 10, 20, 30), (20, 10, 30, 30))]}))
    objects = run_cli("evaluate", vectors, truth, "--image", image, "--json")
    assert objects.exit_code == 0, objects.output
    found = json.loads(objects.stdout)
    assert (found["tp"], found["fp"], found["fn"]) == (2, 0, 0)


def png_bytes(pixels: np.ndarray, colour: int, palette=None, transparency=None,
              depth: int = 8) -> bytes:
    """A PNG of ``pixels`` (rows, columns[, samples]) of colour type ``colour``, with a
    PLTE chunk of ``palette`` and a tRNS chunk of ``transparency`` where given."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).astype(">u2" if depth == 16 else np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                             depth, colour, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    if transparency is not None:
        out += chunk(b"tRNS", bytes(transparency))
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def one_image_as_all(tmp_path, run_cli, labels, images, names: str) -> np.ndarray:
    """The mask make-masks gives ``images[2]`` alone (tmp_path/one/), checked the same as
    the one it gives with all ``images`` (tmp_path/full/), both runs naming the class ids
    ``names`` ("1 Building, 2 Car")."""
    full = run_cli("make-masks", labels, *images, "-o", f"{tmp_path / 'full'}/")
    assert full.exit_code == 0, full.output
    assert names in full.stdout
    one = run_cli("make-masks", labels, images[2], "-o", f"{tmp_path / 'one'}/")
    assert one.exit_code == 0, one.output
    assert names in one.stdout
    mask = read_mask(tmp_path / "one" / "c.tif")[0]
    assert np.array_equal(mask, read_mask(tmp_path / "full" / "c.tif")[0])
    return mask


def coco_runs(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed counts: column-major, from a background run."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def coco_counts(mask: np.ndarray) -> str:
    """COCO's compressed counts string of ``mask`` (pycocotools' rleToString)."""
    runs, out = coco_runs(mask), []
    for i, value in enumerate(runs):
        x = value - runs[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


#: polygons reaching far past their image (pixel (x, y)): 1e12 px to the right, 3e9 px below.
#: GDAL's burn overflows past 2**31 px: it burnt 18 of the first's 162 pixels in a 50 x 40
#: image, none of the second's 123, exit 0. No vertex lies on a pixel edge: the pixels a
#: polygon touches are those of its centres (by the strict rule) and those its edges cross
FAR_RIGHT = [(2.3, 2.4), (14.2, 2.3), (1e12, 6.7), (14.6, 11.3), (2.2, 11.4)]
FAR_DOWN = [(3.3, 14.4), (12.2, 14.3), (12.6, 20.3), (8.3, 3e9), (3.2, 20.4)]


def analytic_pixels(rings, height: int, width: int, all_touched: bool = False) -> np.ndarray:
    """Where the polygons ``rings`` (pixel (x, y)) are burnt on a ``height`` x ``width`` grid,
    from shapely alone: pixel centres inside, or with ``all_touched`` every pixel touched."""
    union = shapely.union_all([shapely.Polygon(r) for r in rings])
    rows, cols = np.mgrid[0:height, 0:width]
    if all_touched:
        return shapely.intersects(shapely.box(cols, rows, cols + 1, rows + 1), union)
    return shapely.contains_xy(union, cols + 0.5, rows + 0.5)
