"""Labels at city scale: only the features near the images are read (bbox pushed down to
the format's spatial index, large GeoJSON streamed in chunks), masks unchanged."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

import geotile.labels as labels_module
from geotile.annotations import joined_ring
from geotile.errors import GeotileWarning, InputError
from geotile.label_set import select_bounds
from geotile.labels import group_boxes, image_regions, read_labels, region_boxes
from geotile.masks import make_masks

from .conftest import (
    UTM_CRS,
    UTM_ORIGIN,
    assert_one_line_error,
    rgbn_with_a_lake,
    write_raster,
)

X0, Y0 = 500000.0, 4000000.0  # upper-left corner of the labels' area, EPSG:32616
SIDE = 2000.0  # metres: the area of labels
CLASSES = ("house", "shed", "garage", "barn")


def city(n: int = 1500, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` small rotated rectangles over a 2 km square, four class names, some overlapping."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(5, SIDE - 5, (n, 2))
    polygons = [shapely.affinity.rotate(shapely.box(X0 + x - a, Y0 - y - b, X0 + x + a,
                                                    Y0 - y + b), t)
                for (x, y), (a, b), t in zip(centres, rng.uniform(1, 6, (n, 2)),
                                             rng.uniform(0, 90, n), strict=True)]
    return gpd.GeoDataFrame({"name": [f"b{i}" for i in range(n)],
                             "kind": [CLASSES[i] for i in rng.integers(0, 4, n)]},
                            geometry=polygons, crs=UTM_CRS)


def tile(tmp_path, name: str, col: float, row: float, size: int = 120, pixel: float = 1.0):
    """A ``size`` px image whose upper-left corner is (col, row) metres into the area."""
    return write_raster(tmp_path / name, np.full((size, size), 7, np.uint8),
                        transform=from_origin(X0 + col, Y0 - row, pixel, pixel))


@pytest.fixture
def images(tmp_path):
    # two nearby tiles (one group) and one far away (its own group)
    return [tile(tmp_path, "a.tif", 100, 100), tile(tmp_path, "b.tif", 220, 130),
            tile(tmp_path, "c.tif", 1700, 1600)]


def masks_of(paths) -> list[np.ndarray]:
    out = []
    for path in paths:
        with rasterio.open(path) as src:
            out.append(src.read())
    return out


def full_read_masks(monkeypatch, labels, images, folder, **kwargs) -> list[np.ndarray]:
    """The masks as before push-down: every feature read."""
    with monkeypatch.context() as patch:
        patch.setattr("geotile.masks._regions", lambda *args: None)
        outputs = [folder / f"full_{p.name}" for p in images]
        make_masks(labels, images, outputs, **kwargs)
    return masks_of(outputs)


class Spy:
    """Counts pyogrio raw reads, their bbox and the features they returned."""

    def __init__(self, monkeypatch):
        import pyogrio.raw

        self.calls: list[tuple] = []
        real = pyogrio.raw.read

        def read(path, *args, **kwargs):
            result = real(path, *args, **kwargs)
            if kwargs.get("read_geometry", True):
                self.calls.append((kwargs.get("bbox"), len(result[2])))
            return result

        monkeypatch.setattr(pyogrio.raw, "read", read)

    @staticmethod
    def sqlite(monkeypatch):
        """Records the R-tree queries of the GeoPackage reader."""
        spy = type("SqlSpy", (), {"queries": []})()
        real = labels_module._gpkg_query

        def query(db, *args):
            db.set_trace_callback(lambda sql: spy.queries.append(sql) if "rtree" in sql and
                                  " IN (SELECT id" in sql else None)
            return real(db, *args)

        monkeypatch.setattr(labels_module, "_gpkg_query", query)
        return spy


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".shp"])
def test_indexed_formats_read_only_the_images_boxes_and_masks_are_unchanged(
        tmp_path, monkeypatch, images, suffix):
    frame = city()
    path = tmp_path / f"city{suffix}"
    frame.to_file(path)
    expected = full_read_masks(monkeypatch, path, images, tmp_path, class_field="kind")
    spy = Spy(monkeypatch)
    if suffix == ".gpkg":  # read from SQLite through the R-tree; pyogrio's path as well
        sql = Spy.sqlite(monkeypatch)
        part = read_labels(path, regions=image_regions(images))
        assert spy.calls == [] and len(sql.queries) == 1  # one query, both groups' boxes
        assert 0 < len(part) < len(frame) // 10
        monkeypatch.setattr(labels_module, "_read_gpkg_boxes", lambda *a: None)
    outputs = [tmp_path / f"m_{p.name}" for p in images]
    summaries = make_masks(path, images, outputs, class_field="kind")
    # one bbox query per group of nearby images: a+b together, c alone
    assert len(spy.calls) == 2 and all(bbox is not None for bbox, _ in spy.calls)
    read = sum(count for _, count in spy.calls)
    assert 0 < read < len(frame) // 10
    for got, want in zip(masks_of(outputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert sum(s["positive_pixels"] for s in summaries) > 0
    # class ids come from all four names of the file, as a whole read gives them
    assert summaries[0]["classes"] == ["background", "barn", "garage", "house", "shed"]


def test_labels_in_another_crs_are_read_through_a_transformed_box(tmp_path, monkeypatch,
                                                                  images):
    path = tmp_path / "city_lonlat.gpkg"
    city().to_crs("EPSG:4326").to_file(path)
    expected = full_read_masks(monkeypatch, path, images, tmp_path)
    spy = Spy(monkeypatch)
    outputs = [tmp_path / f"m_{p.name}" for p in images]
    make_masks(path, images, outputs)
    assert all(bbox is not None for bbox, _ in spy.calls)
    assert all(-180 < bbox[0] < bbox[2] < 180 for bbox, _ in spy.calls)  # degrees
    assert sum(count for _, count in spy.calls) < 1500 // 10
    for got, want in zip(masks_of(outputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_read_boxes_returns_each_feature_once_in_file_order(tmp_path):
    frame = city(300)
    path = tmp_path / "city.gpkg"
    frame.to_file(path)
    regions = [(rasterio.crs.CRS.from_user_input(UTM_CRS), (X0, Y0 - 1200, X0 + 1200, Y0)),
               (rasterio.crs.CRS.from_user_input(UTM_CRS), (X0 + 800, Y0 - 2000, X0 + 2000,
                                                            Y0 - 800))]
    part = read_labels(path, regions=regions)
    names = list(part.fields["name"])
    assert len(names) == len(set(names))
    assert names == sorted(names, key=lambda n: int(n[1:]))
    whole = read_labels(path)
    want = set()
    for _, bounds in regions:
        want |= set(select_bounds(whole, bounds).fields["name"])
    assert want <= set(names)
    assert part.extent == pytest.approx(tuple(frame.total_bounds))


def test_group_boxes_merges_neighbours_and_keeps_distant_ones_apart():
    boxes = [[0, 0, 10, 10], [12, 0, 22, 10], [24, 0, 34, 10], [500, 500, 510, 510]]
    groups = sorted(group_boxes(boxes))
    assert groups == [[0.0, 0.0, 34.0, 10.0], [500.0, 500.0, 510.0, 510.0]]
    assert group_boxes([[0, 0, 1, 1]]) == [[0.0, 0.0, 1.0, 1.0]]


def test_region_boxes_cover_the_four_corners_of_a_rotated_image(tmp_path):
    transform = rasterio.Affine.rotation(30) * rasterio.Affine.scale(1, -1)
    transform = rasterio.Affine.translation(X0, Y0) * transform
    path = write_raster(tmp_path / "rot.tif", np.zeros((50, 50), np.uint8),
                        transform=transform)
    [(crs, bounds)] = image_regions([path])
    with rasterio.open(path) as src:
        corners = [src.transform * (c, r) for c in (0, 50) for r in (0, 50)]
    [box] = region_boxes([(crs, bounds)], crs)
    for x, y in corners:
        assert box[0] <= x <= box[2] and box[1] <= y <= box[3]


def write_collection(path, frame: gpd.GeoDataFrame, extra: str = "") -> None:
    features = [{"type": "Feature", "id": i, "properties": {"name": n, "kind": k},
                 "geometry": json.loads(shapely.to_geojson(g))}
                for i, (n, k, g) in enumerate(zip(frame["name"], frame["kind"],
                                                  frame.geometry, strict=True))]
    document = {"type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32616"}},
                "features": features}
    path.write_text(json.dumps(document, indent=1) + extra)


@pytest.fixture
def streamed(monkeypatch):
    """Every GeoJSON counts as large, in chunks of 7 features and 1 kB blocks."""
    monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)
    monkeypatch.setattr(labels_module, "CHUNK_FEATURES", 7)
    monkeypatch.setattr(labels_module._GeoJSONStream, "BLOCK", 1024)


def test_chunked_geojson_read_equals_the_whole_read(tmp_path, images, streamed):
    frame = city(400)
    path = tmp_path / "city.geojson"
    write_collection(path, frame)
    regions = image_regions(images)
    part = read_labels(path, regions=regions, class_field="kind")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(labels_module, "STREAM_BYTES", 10**12)
        whole = read_labels(path)
    want = np.zeros(len(whole), dtype=bool)
    for box in region_boxes(regions, whole.crs):
        want |= shapely.intersects(whole.geometries, shapely.box(*box))
    expected = whole.take(want)
    assert 0 < len(part) < len(whole) // 4
    assert list(part.fields["name"]) == list(expected.fields["name"])
    assert all(a.equals_exact(b, 0) for a, b in zip(part.geometries, expected.geometries,
                                                    strict=True))
    assert part.crs == whole.crs
    assert sorted(part.values["kind"]) == sorted(CLASSES)
    assert part.extent == pytest.approx(tuple(whole.total_bounds))


def test_streamed_geojson_never_holds_the_whole_file(tmp_path, images, monkeypatch):
    path = tmp_path / "city.geojson"
    write_collection(path, city(3000))
    monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)
    monkeypatch.setattr(labels_module._GeoJSONStream, "BLOCK", 64 * 1024)
    largest = []
    real = labels_module._GeoJSONStream._fill

    def fill(self):
        done = real(self)
        largest.append(len(self.buffer))
        return done

    monkeypatch.setattr(labels_module._GeoJSONStream, "_fill", fill)
    monkeypatch.setattr(labels_module, "_read_geojson", None)  # the whole-file reader
    read_labels(path, regions=image_regions(images))
    assert len(largest) > 10
    assert max(largest) < 3 * 64 * 1024 < path.stat().st_size / 5


def test_streamed_geojson_masks_equal_the_whole_read(tmp_path, monkeypatch, images, streamed):
    path = tmp_path / "city.geojson"
    write_collection(path, city(800))
    expected = full_read_masks(monkeypatch, path, images, tmp_path, class_field="kind")
    outputs = [tmp_path / f"m_{p.name}" for p in images]
    summaries = make_masks(path, images, outputs, class_field="kind")
    for got, want in zip(masks_of(outputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert summaries[0]["classes"] == ["background", "barn", "garage", "house", "shed"]


def test_streamed_geojson_repairs_and_warnings_are_numbered_over_the_file(
        tmp_path, images, streamed):
    frame = city(30)
    path = tmp_path / "city.geojson"
    write_collection(path, frame)
    document = json.loads(path.read_text())
    ring = document["features"][20]["geometry"]["coordinates"][0]
    document["features"][20]["geometry"]["coordinates"][0] = ring[:-1]  # unclosed
    document["features"][3]["properties"]["name"] = "Müller"
    path.write_bytes(json.dumps(document, ensure_ascii=False).encode("latin-1"))
    regions = [(rasterio.crs.CRS.from_user_input(UTM_CRS), (X0, Y0 - SIDE, X0 + SIDE, Y0))]
    with pytest.warns(GeotileWarning) as caught:
        part = read_labels(path, regions=regions)
    messages = " ".join(str(w.message) for w in caught)
    assert "not UTF-8" in messages and "Latin-1" in messages
    assert "not closed" in messages and "feature 20 (id 20)" in messages
    assert len(part) == 30 and part.fields["name"][3] == "Müller"
    assert part.geometries[20].equals(frame.geometry[20])


def test_streamed_geojson_with_projected_coordinates_as_lonlat_is_still_refused(
        tmp_path, images, streamed):
    path = tmp_path / "nocrs.geojson"
    frame = city(20)
    write_collection(path, frame)
    document = json.loads(path.read_text())
    del document["crs"]  # UTM metres declared as RFC 7946 lon/lat
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="not longitude/latitude"):
        make_masks(path, images[:1], [tmp_path / "m.tif"])


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb"])
def test_images_away_from_the_labels_give_empty_masks_with_a_warning(tmp_path, suffix):
    path = tmp_path / f"city{suffix}"
    city(50).to_file(path)
    far = tile(tmp_path, "far.tif", 9000, 9000)
    with pytest.warns(GeotileWarning, match=r"no feature overlaps far.tif \(labels span "
                      r"\(500\d+.* in EPSG:32616"):
        [summary] = make_masks(path, [far], [tmp_path / "m.tif"])
    assert summary["features"] == 0 and summary["positive_pixels"] == 0


def test_the_labels_span_named_for_a_far_image_does_not_depend_on_the_other_images(
        tmp_path, images):
    """The span named for an image no label overlaps was that of the features read near the
    run's other images ((500080, ...) with a.tif in the run) and the file's whole extent
    alone (or on a dask worker, or with a.tif skipped by --resume): it is the file's always."""
    import warnings

    path = tmp_path / "city.gpkg"
    city(300).to_file(path)
    far = tile(tmp_path, "far.tif", 9000, 9000)
    said = []
    for run in ([far], [images[0], far]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make_masks(path, run, [tmp_path / f"m{i}.tif" for i in range(len(run))],
                       overwrite=True)
        said.append([str(w.message) for w in caught if "far.tif" in str(w.message)])
    left, bottom, right, top = city(300).total_bounds
    assert len(said[0]) == 1 and said[1] == said[0]
    assert f"labels span ({left:.6g}, {bottom:.6g}, {right:.6g}, {top:.6g}) in EPSG:32616" \
        in said[0][0]


def test_points_near_the_images_are_still_not_footprints(tmp_path, images):
    path = tmp_path / "points.gpkg"
    gpd.GeoDataFrame(geometry=city(200).centroid, crs=UTM_CRS).to_file(path)
    with pytest.raises(InputError, match="no feature is a polygon"):
        make_masks(path, images, [tmp_path / f"m{i}.tif" for i in range(3)])


def test_an_empty_file_makes_all_zero_masks_with_a_warning(tmp_path, images):
    """A labels file of no feature is one of no building (SpaceNet ships such files):
    all-zero masks, said, not an error that stops a loop over tiles."""
    path = tmp_path / "empty.gpkg"
    city(3).iloc[:0].to_file(path)
    with pytest.warns(GeotileWarning, match="empty.gpkg holds no features"):
        make_masks(path, images[:1], [tmp_path / "m.tif"])
    with rasterio.open(tmp_path / "m.tif") as src:
        assert not src.read(1).any()


@pytest.mark.skipif(int(gpd.__version__.split(".")[0]) < 1,
                    reason="bbox covering columns need geopandas >= 1.0")
def test_geoparquet_with_bbox_covering(tmp_path, monkeypatch, images):
    path = tmp_path / "city.parquet"
    city().to_parquet(path, write_covering_bbox=True, row_group_size=100)
    expected = full_read_masks(monkeypatch, path, images, tmp_path, class_field="kind")
    outputs = [tmp_path / f"m_{p.name}" for p in images]
    summaries = make_masks(path, images, outputs, class_field="kind")
    for got, want in zip(masks_of(outputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert summaries[0]["classes"] == ["background", "barn", "garage", "house", "shed"]
    part = read_labels(path, regions=image_regions(images), class_field="kind")
    assert len(part) < 1500 // 10


def test_geopackage_from_sqlite_equals_pyogrio(tmp_path, monkeypatch, images):
    frame = city()
    frame["storeys"] = np.arange(len(frame)) % 4
    frame["height"] = np.arange(len(frame)) * 0.5
    path = tmp_path / "city.gpkg"
    frame.to_file(path)
    regions = image_regions(images)
    fast = read_labels(path, regions=regions, class_field="kind")
    monkeypatch.setattr(labels_module, "_read_gpkg_boxes", lambda *a: None)
    slow = read_labels(path, regions=regions, class_field="kind")
    assert fast.crs == slow.crs
    assert fast.extent == pytest.approx(slow.extent)
    assert sorted(fast.values["kind"]) == sorted(slow.values["kind"]) == sorted(CLASSES)
    assert list(fast.fields) == list(slow.fields)
    for name in slow.fields:
        assert list(fast.fields[name]) == list(slow.fields[name]), name
    assert all(a.equals_exact(b, 0) for a, b in zip(fast.geometries, slow.geometries,
                                                    strict=True))


def test_geopackage_without_rtree_or_with_several_layers_goes_through_pyogrio(
        tmp_path, monkeypatch, images):
    frame = city(300)
    plain = tmp_path / "plain.gpkg"
    frame.to_file(plain, SPATIAL_INDEX="NO")
    layered = tmp_path / "layered.gpkg"
    frame.to_file(layered, layer="buildings")
    frame.iloc[:5].to_file(layered, layer="other")
    spy = Spy(monkeypatch)
    regions = image_regions(images)
    a = read_labels(plain, regions=regions)
    b = read_labels(layered, layer="buildings", regions=regions)
    assert len(spy.calls) == 4 and all(bbox is not None for bbox, _ in spy.calls)
    assert list(a.fields["name"]) == list(b.fields["name"]) and 0 < len(a) < 100


# ---- tile --labels: per-patch labels, COCO and YOLO-seg ----

def annotated_scene(tmp_path):
    """A 300 x 250 px image (1 m), labels crossing patch edges, and its mask."""
    frame = city(3000)
    frame = frame[frame.intersects(shapely.box(X0, Y0 - 250, X0 + 300, Y0))].reset_index(
        drop=True)
    frame = gpd.GeoDataFrame(pd_concat(frame, gpd.GeoDataFrame(
        {"name": ["sliver"], "kind": ["barn"]},
        geometry=[shapely.box(X0 + 99.7, Y0 - 60, X0 + 110, Y0 - 50)], crs=UTM_CRS)),
        crs=UTM_CRS)
    labels = tmp_path / "labels.geojson"
    write_collection(labels, frame)
    image = tile(tmp_path, "scene.tif", 0, 0, size=300)
    mask = tmp_path / "scene_mask.tif"
    make_masks(labels, [image], [mask], class_field="kind")
    return frame, labels, image, mask


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def index_rows(folder):
    import csv

    with (folder / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tile_labels_geojson_burns_back_to_the_mask_patches(run_cli, tmp_path):
    from rasterio.features import rasterize

    _, labels, image, mask = annotated_scene(tmp_path)
    out = tmp_path / "patches"
    result = run_cli("tile", image, "--masks", mask, "--labels", labels, "--class-field",
                     "kind", "--size", "100", "-o", out)
    assert result.exit_code == 0, result.output
    rows = index_rows(out)
    assert len(rows) == 9
    for row in rows:
        stem = row["image"].split("/")[-1].rsplit(".", 1)[0]
        vector = gpd.read_file(out / "labels" / f"{stem}.geojson")
        with rasterio.open(out / row["mask"]) as src:
            want, transform, crs = src.read(1), src.transform, src.crs
        assert vector.crs == crs
        burnt = rasterize(zip(vector.geometry, vector["class_id"], strict=True),
                          out_shape=want.shape, transform=transform, dtype="uint8") \
            if len(vector) else np.zeros_like(want)
        np.testing.assert_array_equal(burnt, want)
    # the output (labels included) is geotile's: --overwrite replaces it
    again = run_cli("tile", image, "--labels", labels, "--size", "100", "-o", out,
                    "--overwrite")
    assert again.exit_code == 0, again.output


def test_tile_coco_annotations(run_cli, tmp_path):
    frame, labels, image, _ = annotated_scene(tmp_path)
    out = tmp_path / "coco"
    result = run_cli("tile", image, "--labels", labels, "--class-field", "kind",
                     "--annotations", "coco", "--size", "100", "-o", out)
    assert result.exit_code == 0, result.output
    coco = json.loads((out / "annotations.json").read_text())
    rows = index_rows(out)
    assert [(i["id"], i["file_name"]) for i in coco["images"]] == \
        [(n, r["image"]) for n, r in enumerate(rows, start=1)]
    assert {c["name"]: c["id"] for c in coco["categories"]} == \
        {"barn": 1, "garage": 2, "house": 3, "shed": 4}
    images = {i["id"]: (i, rows[i["id"] - 1]) for i in coco["images"]}
    assert len(coco["annotations"]) > 20
    ids = [a["id"] for a in coco["annotations"]]
    assert len(set(ids)) == len(ids)
    for annotation in coco["annotations"]:
        info, row = images[annotation["image_id"]]
        assert annotation["category_id"] in {1, 2, 3, 4} and annotation["iscrowd"] == 0
        for polygon in annotation["segmentation"]:
            xy = np.asarray(polygon).reshape(-1, 2)
            assert len(xy) >= 3
            assert (xy >= 0).all() and (xy[:, 0] <= info["width"]).all() and \
                (xy[:, 1] <= info["height"]).all()
        x, y, w, h = annotation["bbox"]
        assert min(x, y) >= 0
        assert x + w <= info["width"] + 1e-9 and y + h <= info["height"] + 1e-9
    # areas: each patch's instances equal the labels clipped to the patch (1 m pixels)
    for image_id, (_, row) in images.items():
        patch = shapely.box(float(row["minx"]), float(row["miny"]), float(row["maxx"]),
                            float(row["maxy"]))
        clipped = sorted(a for a in shapely.area(shapely.intersection(
            frame.geometry.values, patch)) if a > 0)
        got = sorted(a["area"] for a in coco["annotations"] if a["image_id"] == image_id)
        assert got == pytest.approx(clipped, rel=0.01)


def test_coco_files_hold_the_info_that_evaluation_copies(run_cli, tmp_path):
    """pycocotools 2.0.9/2.0.10's COCO.loadRes (every COCOeval: detectron2's, mmdet's,
    torchvision's evaluators) copies the ground truth's ``info`` with
    ``copy.deepcopy(dataset['info'])``: a file without it stops evaluation with
    KeyError: 'info'. Every COCO file tile writes holds one (and the licenses list)."""
    import copy

    _, labels, image, _ = annotated_scene(tmp_path)
    out = tmp_path / "coco"
    result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                     "30", "--split", "0.6,0.2,0.2", "-o", out)
    assert result.exit_code == 0, result.output
    names = ["annotations.json", *(f"annotations_{s}.json" for s in ("train", "val", "test"))]
    for name in names:
        dataset = json.loads((out / name).read_text())
        info = copy.deepcopy(dataset["info"])  # as loadRes does
        assert isinstance(info, dict) and "geotile" in info["description"]
        assert dataset["licenses"] == []
        assert dataset["images"] and dataset["categories"]


def test_tile_yolo_annotations_and_min_area(run_cli, tmp_path):
    _, labels, image, _ = annotated_scene(tmp_path)
    out = tmp_path / "yolo"
    result = run_cli("tile", image, "--labels", labels, "--class-field", "kind",
                     "--annotations", "yolo", "--size", "100", "-o", out, "--min-area", "5")
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().split() == \
        ["barn", "garage", "house", "shed"]
    lines = []
    for row in index_rows(out):
        stem = row["image"].split("/")[-1].rsplit(".", 1)[0]
        lines += (out / "labels" / f"{stem}.txt").read_text().splitlines()
    assert len(lines) > 20
    for line in lines:
        values = line.split()
        assert values[0] in {"0", "1", "2", "3"}
        coords = np.array(values[1:], dtype=float)
        assert len(coords) >= 6 and len(coords) % 2 == 0
        assert ((coords >= 0) & (coords <= 1)).all()
    # the sliver (0.3 px of the first patch) is dropped, its 10 px part in the next kept
    first = gpd.read_file(out / "labels" / "scene_0_0.geojson")
    assert not any(g.bounds[2] == X0 + 100 and g.bounds[0] >= X0 + 99.7 - 1e-9
                   for g in first.geometry)
    second = gpd.read_file(out / "labels" / "scene_0_1.geojson")
    assert any(abs(g.bounds[0] - (X0 + 100)) < 1e-6 and abs(g.bounds[2] - (X0 + 110)) < 1e-6
               for g in second.geometry)


def test_split_annotations_hold_each_split_its_own_patches(run_cli, tmp_path):
    """--split: a trainer takes one annotation file per split. annotations.json holds every
    patch; annotations_<split>.json (COCO) and <split>.txt (YOLO image lists, ./images/...
    as Ultralytics reads them) hold only that split's patches, as index.csv assigns them."""
    _, labels, image, _ = annotated_scene(tmp_path)
    for kind in ("coco", "yolo"):
        out = tmp_path / kind
        result = run_cli("tile", image, "--labels", labels, "--annotations", kind, "--size",
                         "30", "--split", "0.6,0.2,0.2", "-o", out)
        assert result.exit_code == 0, result.output
        rows = index_rows(out)
        splits = {name: [(n, r["image"]) for n, r in enumerate(rows, start=1)
                         if r["split"] == name] for name in ("train", "val", "test")}
        assert all(splits.values())
        if kind == "coco":
            whole = json.loads((out / "annotations.json").read_text())
            for name, patches in splits.items():
                part = json.loads((out / f"annotations_{name}.json").read_text())
                assert [(i["id"], i["file_name"]) for i in part["images"]] == patches
                ids = {n for n, _ in patches}
                assert part["annotations"] == [a for a in whole["annotations"]
                                               if a["image_id"] in ids]
                assert part["categories"] == whole["categories"]
            assert not (out / "train.txt").exists()
        else:
            for name, patches in splits.items():
                assert (out / f"{name}.txt").read_text().splitlines() == \
                    [f"./{path}" for _, path in patches]
            assert not list(out.glob("annotations*.json"))
    # no --split: no per-split files
    out = tmp_path / "whole"
    assert run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size", "100",
                   "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == \
        [".geotile-tile.json", "annotations.json", "index.csv"]


def test_tile_annotations_need_labels(run_cli, tmp_path):
    image = tile(tmp_path, "scene.tif", 0, 0, size=100)
    result = run_cli("tile", image, "--annotations", "coco", "-o", tmp_path / "o")
    assert result.exit_code == 2 and "--labels" in result.output
    # the options that act on --labels only are not taken without them (and ignored)
    for option, value in (("--min-area", "5"), ("--min-area", "0"), ("--class-field", "kind")):
        result = run_cli("tile", image, option, value, "-o", tmp_path / "o")
        assert result.exit_code == 2 and f"{option} needs --labels" in result.output
        assert not (tmp_path / "o").exists()


def test_annotations_of_a_courtyard_a_touching_building_and_changed_labels(run_cli,
                                                                           tmp_path):
    """A building with a courtyard: COCO polygons and YOLO rings hold no holes, so it is cut
    into hole-free parts (their union is the building, the area theirs); a building that
    only touches a patch's edge (its coordinates off by float rounding) leaves no sliver
    there; --resume redoes annotations whose labels file changed."""
    from rasterio.transform import from_origin

    pixel = 0.6  # map coordinates on patch lines read back as 255.9999999999 px
    image = write_raster(tmp_path / "img.tif", np.full((200, 400), 7, np.uint8),
                         crs=UTM_CRS, transform=from_origin(X0, Y0, pixel, pixel))
    courtyard = shapely.box(X0 + 6, Y0 - 66, X0 + 66, Y0 - 6).difference(
        shapely.box(X0 + 30, Y0 - 42, X0 + 42, Y0 - 30))
    touching = shapely.box(X0 + 256 * pixel, Y0 - 30 * pixel, X0 + 300 * pixel, Y0 - 10 * pixel)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[courtyard, touching], crs=UTM_CRS).to_file(labels)
    for kind in ("coco", "yolo"):
        out = tmp_path / kind
        result = run_cli("tile", image, "--labels", labels, "--annotations", kind,
                         "--size", "256", "--edge", "pad", "-o", out, "--resume")
        assert result.exit_code == 0, result.output
        if kind == "coco":
            coco = json.loads((out / "annotations.json").read_text())
            first = [a for a in coco["annotations"] if a["image_id"] == 1]
            assert len(first) == 1  # the courtyard building; no sliver of the other
            parts = [shapely.Polygon(np.reshape(s, (-1, 2))) for s in first[0]["segmentation"]]
            union = shapely.union_all(parts)
            building = shapely.affinity.affine_transform(
                courtyard, [1 / pixel, 0, 0, -1 / pixel, -X0 / pixel, Y0 / pixel])
            assert union.symmetric_difference(building).area < 1e-6
            assert first[0]["area"] == pytest.approx(sum(p.area for p in parts))
        else:
            lines = (out / "labels" / "img_0_0.txt").read_text().splitlines()
            assert len(lines) == 1  # one object: the courtyard bridged into its ring
            ring = np.array(lines[0].split()[1:], float).reshape(-1, 2) * 256
            assert abs(shoelace(ring)) == pytest.approx(courtyard.area / pixel**2, rel=1e-4)
    # the labels change: --resume redoes the annotations
    gpd.GeoDataFrame(geometry=[courtyard], crs=UTM_CRS).to_file(labels, mode="w")
    before = (tmp_path / "coco" / "annotations.json").read_text()
    result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                     "256", "--edge", "pad", "-o", tmp_path / "coco", "--resume")
    assert result.exit_code == 0, result.output
    after = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert (tmp_path / "coco" / "annotations.json").read_text() != before
    assert len(after["annotations"]) == 1


def test_labels_with_a_crs_on_an_image_without_one_are_one_line(run_cli, tmp_path):
    image = tmp_path / "plain.png"
    with rasterio.open(image, "w", driver="PNG", width=64, height=64, count=1,
                       dtype="uint8") as dst:
        dst.write(np.zeros((1, 64, 64), np.uint8))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 10, X0 + 10, Y0)],
                     crs=UTM_CRS).to_file(labels)
    result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                     "32", "-o", tmp_path / "o")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert "plain.png" in errors[0] and "cannot be placed" in errors[0]
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize("ext", ["tif", "png"])
def test_spacenet_csv_annotations_hold_each_image_its_own_rows(run_cli, tmp_path, ext):
    """SpaceNet truth is per ImageId: two images of one place (two dates; or photos, all in
    one pixel space) each get only their own rows' buildings, as their masks do."""
    from rasterio.transform import from_origin

    images = []
    for name in ("AOI_1_date1", "AOI_1_date2"):
        path = tmp_path / f"{name}.{ext}"
        profile = {"crs": UTM_CRS, "transform": from_origin(X0, Y0, 0.3, 0.3)} \
            if ext == "tif" else {"driver": "PNG"}
        with rasterio.open(path, "w", width=100, height=100, count=1, dtype="uint8",
                           **({"driver": "GTiff"} | profile)) as dst:
            dst.write(np.full((1, 100, 100), 90, np.uint8))
        images.append(path)
    truth = tmp_path / "truth.csv"
    truth.write_text("ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo\n"
                     'AOI_1_date1,1,"POLYGON ((10 10,50 10,50 50,10 50,10 10))",\n'
                     'AOI_1_date2,1,"POLYGON ((60 60,90 60,90 90,60 90,60 60))",\n')
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--labels", truth, "--annotations", "coco", "--size",
                     "100", "-o", out)
    assert result.exit_code == 0, result.output
    coco = json.loads((out / "annotations.json").read_text())
    boxes = {i["file_name"].split("/")[-1].split(".")[0]:
             [a["bbox"] for a in coco["annotations"] if a["image_id"] == i["id"]]
             for i in coco["images"]}
    assert boxes == {"AOI_1_date1_0_0": [[10.0, 10.0, 40.0, 40.0]],
                     "AOI_1_date2_0_0": [[60.0, 60.0, 30.0, 30.0]]}
    for stem in boxes:  # the per-patch GeoJSON alike
        vector = json.loads((out / "labels" / f"{stem}.geojson").read_text())
        assert len(vector["features"]) == 1


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_instances_on_the_images_nodata_only_are_not_annotated(run_cli, tmp_path, dtype):
    """A building wholly on the image's nodata (its mask patch says ignore there) is no
    instance in COCO, YOLO or the per-patch GeoJSON; one partly on valid pixels is kept
    whole (its nodata part too), as are those on valid pixels."""
    from rasterio.transform import from_origin

    pixels = np.full((100, 200), 7, dtype)
    gap = 0 if dtype == "uint8" else np.nan  # a declared nodata value; NaN undeclared
    pixels[:, 100:] = gap
    image = write_raster(tmp_path / "img.tif", pixels, crs=UTM_CRS,
                         transform=from_origin(X0, Y0, 1, 1),
                         nodata=0 if dtype == "uint8" else None)

    def box(x0, y0, x1, y1):  # pixel coordinates -> map
        return shapely.box(X0 + x0, Y0 - y1, X0 + x1, Y0 - y0)

    buildings = [box(10, 10, 30, 30),      # valid
                 box(90, 40, 120, 60),     # 10 of its 30 columns valid
                 box(140, 10, 180, 50),    # wholly nodata
                 box(100, 70, 130, 90)]    # wholly nodata, its edge on the last valid column
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=buildings, crs=UTM_CRS).to_file(labels)
    for kind in ("coco", "yolo"):
        out = tmp_path / kind
        result = run_cli("tile", image, "--labels", labels, "--annotations", kind,
                         "--size", "200", "-o", out)
        assert result.exit_code == 0, result.output
        vector = gpd.read_file(out / "labels" / "img_0_0.geojson")
        assert sorted(vector.area) == [400.0, 600.0]
        if kind == "coco":
            coco = json.loads((out / "annotations.json").read_text())
            assert sorted(a["bbox"] for a in coco["annotations"]) == \
                [[10.0, 10.0, 20.0, 20.0], [90.0, 40.0, 30.0, 20.0]]
        else:
            lines = (out / "labels" / "img_0_0.txt").read_text().splitlines()
            assert len(lines) == 2


def test_instances_on_the_lake_of_an_rgbn_image_are_annotated(run_cli, tmp_path):
    """A 4-band uint8 RGB+NIR image (band 4 flagged alpha by GDAL's default): a building on
    NIR 0 (a lake's shore) was taken for one wholly on nodata and left out of COCO. Now
    nodata is where every band is 0 (as predict has it): only the collar's is left out."""
    from rasterio.transform import from_origin

    # the lake, and a collar outside the scene
    stack = rgbn_with_a_lake((100, 200), np.s_[:, 50:100], np.s_[:, 150:], seed=4)

    def box(x0, y0, x1, y1):  # pixel coordinates -> map
        return shapely.box(X0 + x0, Y0 - y1, X0 + x1, Y0 - y0)

    image = write_raster(tmp_path / "img.tif", stack, crs=UTM_CRS,
                         transform=from_origin(X0, Y0, 1, 1))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(10, 10, 30, 30), box(60, 10, 80, 30),
                               box(160, 10, 180, 30)], crs=UTM_CRS).to_file(labels)
    out = tmp_path / "coco"
    result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                     "200", "-o", out)
    assert result.exit_code == 0, result.output
    coco = json.loads((out / "annotations.json").read_text())
    assert sorted(a["bbox"] for a in coco["annotations"]) == \
        [[10.0, 10.0, 20.0, 20.0], [60.0, 10.0, 20.0, 20.0]]


def shoelace(ring: np.ndarray) -> float:
    """Signed area of a (n, 2) ring (closing edge implied); a zero-width bridge walked there
    and back adds nothing."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def test_yolo_writes_one_line_per_instance_holes_and_parts_bridged(run_cli, tmp_path):
    """YOLO-seg is one object per line: a building with two courtyards and a MultiPolygon
    (three parts, one with a hole) are one line each, their rings joined by zero-width
    bridges, so the line's ring (shoelace) has the instance's area, as in COCO."""
    from rasterio.transform import from_origin

    image = write_raster(tmp_path / "img.tif", np.full((256, 256), 7, np.uint8), crs=UTM_CRS,
                         transform=from_origin(X0, Y0, 1, 1))

    def box(x0, y0, x1, y1):  # pixel coordinates -> map
        return shapely.box(X0 + x0, Y0 - y1, X0 + x1, Y0 - y0)

    courtyards = box(10, 10, 110, 90).difference(box(20, 20, 50, 50)).difference(
        box(70, 30, 100, 80))
    parts = shapely.MultiPolygon([box(130, 10, 160, 40), box(200, 20, 250, 60),
                                  box(140, 100, 240, 200).difference(box(170, 130, 200, 170))])
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame({"cls": ["house", "shed"]}, geometry=[courtyards, parts],
                     crs=UTM_CRS).to_file(labels)
    out = tmp_path / "yolo"
    result = run_cli("tile", image, "--labels", labels, "--class-field", "cls",
                     "--annotations", "yolo", "--size", "256", "-o", out)
    assert result.exit_code == 0, result.output
    lines = (out / "labels" / "img_0_0.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]
    for line, geometry in zip(lines, (courtyards, parts), strict=True):
        ring = np.array(line.split()[1:], float).reshape(-1, 2) * 256
        assert abs(abs(shoelace(ring)) - geometry.area) <= 0.5 * len(ring)
        pixels = shapely.affinity.affine_transform(geometry, [1, 0, 0, -1, -X0, Y0])
        assert abs(shoelace(joined_ring(pixels))) == pytest.approx(geometry.area, rel=1e-12)
        # every vertex of every ring of the instance is on the line's ring
        for polygon in shapely.get_parts(pixels):
            for part in (polygon.exterior, *polygon.interiors):
                for vertex in np.asarray(part.coords):
                    assert np.abs(ring - vertex).max(axis=1).min() < 1e-3



def many_holes(n: int, seed: int = 0) -> shapely.Polygon:
    """A 512 px square with ``n`` small holes (squares and octagons) on a jittered grid, in
    no order (a forest and its clearings)."""
    rng = np.random.default_rng(seed)
    k = int(np.ceil(np.sqrt(n)))
    step = 508 / k
    holes = []
    for i in range(n):
        x, y = 2 + (np.divmod(i, k)[::-1] + rng.uniform(0.1, 0.3, 2)) * step
        hole = shapely.box(x, y, x + 0.3 * step, y + 0.3 * step)
        holes.append(hole if i % 3 else hole.centroid.buffer(0.15 * step, quad_segs=2))
    order = rng.permutation(n)
    return shapely.Polygon([(1, 1), (511, 1), (511, 511), (1, 511)],
                           [holes[i].exterior for i in order])


def test_joined_ring_of_2000_holes_is_one_ring_bridged_at_closest_points(monkeypatch):
    """A polygon of 2,000 holes (a forest's clearings, a vectorized probability raster) is
    one ring: the polygon's area, every ring's vertices on it, each bridge walked there and
    back between two rings' closest points. The rings near each ring are found in a tree:
    measuring each ring against all those left (2 million ring distances) took minutes,
    hours at 16,000 holes."""
    geometry = many_holes(2000)
    measured = []
    distance = shapely.distance
    monkeypatch.setattr(shapely, "distance", lambda a, b: measured.append(np.size(b)) or
                        distance(a, b))
    ring = joined_ring(geometry)
    monkeypatch.undo()
    rings = [geometry.exterior, *geometry.interiors]
    assert sum(measured) < 20 * len(rings)
    assert shoelace(ring) == pytest.approx(geometry.area, rel=1e-10)  # 14,000 vertices
    vertices = np.vstack([np.asarray(part.coords) for part in rings])
    assert np.isin(vertices.view(complex), ring.view(complex)).all()
    edges = np.stack([ring, np.roll(ring, -1, axis=0)], axis=1)  # (n, 2 ends, xy)
    middles = shapely.points(edges.mean(axis=1))
    on_ring = shapely.STRtree(rings).query(middles, predicate="dwithin", distance=1e-9)[0]
    bridges = np.delete(edges, on_ring, axis=0)
    assert len(bridges) == 2 * (len(rings) - 1)  # each walked there and back
    there = {tuple(e.ravel()) for e in bridges}
    assert {tuple(e[::-1].ravel()) for e in bridges} == there
    tree = shapely.STRtree(rings)
    for a, b in bridges[:200]:
        one, other = (rings[tree.query_nearest(shapely.Point(p))[0]] for p in (a, b))
        assert np.hypot(*(a - b)) == pytest.approx(shapely.distance(one, other), rel=1e-9)


def test_joined_ring_chains_each_ring_to_the_nearest_left_the_first_of_ties():
    """The rings are chained as before the tree found them: from the first, each time the
    nearest ring not yet joined, the first of those equally near (a grid of holes: all
    tied), so that YOLO lines of ordinary buildings are unchanged."""
    from geotile.annotations import _chain

    grid = shapely.box(0, 0, 310, 310).difference(shapely.MultiPolygon(
        [shapely.box(10 * i + 5, 10 * j + 5, 10 * i + 9, 10 * j + 9)
         for i in range(12) for j in range(12)]))
    parts = shapely.MultiPolygon([shapely.box(10 * i, 10 * j, 10 * i + 5, 10 * j + 5)
                                  for i in range(12) for j in range(12)])
    for geometry in (grid, parts, many_holes(300, seed=1), many_holes(40, seed=2)):
        lines = np.array([shapely.LinearRing(r) for p in shapely.get_parts(geometry)
                          for r in (p.exterior, *p.interiors)], dtype=object)
        order, left = [0], list(range(1, len(lines)))
        while left:
            distances = shapely.distance(lines[order[-1]], lines[left])
            order.append(left.pop(int(np.argmin(distances))))
        assert _chain(lines) == order


def test_coco_parts_of_2000_holes_left_to_right_halve_them(monkeypatch):
    """COCO polygons hold no holes: a polygon of 2,000 holes listed left to right is cut into
    parts without holes that tile it (areas summing to its own, none overlapping). Each
    cut goes through the middle hole, halving them: through the first, each cut opened
    one hole and carried all the others on (2 million holes overlaid, 27 s)."""
    from geotile.annotations import hole_free_parts

    y = np.random.default_rng(0).uniform(5, 500, 2000)
    polygon = shapely.Polygon([(1, 1), (511, 1), (511, 511), (1, 511)],
                              [shapely.box(5 + 0.25 * i, y[i], 5.2 + 0.25 * i, y[i] + 2).exterior
                               for i in range(2000)])  # clearings, west to east
    carried = []
    get_parts = shapely.get_parts
    monkeypatch.setattr(shapely, "get_parts", lambda g: carried.append(
        int(shapely.get_num_interior_rings(get_parts(g)).sum())) or get_parts(g))
    parts = hole_free_parts(polygon)
    monkeypatch.undo()
    assert sum(carried) < 30 * 2000
    assert all(not p.interiors for p in parts)
    assert sum(p.area for p in parts) == pytest.approx(polygon.area, rel=1e-12)
    assert shapely.union_all(parts).symmetric_difference(polygon).area < 1e-6
    # a building's few holes: cut through its first, as always
    courtyards = shapely.box(0, 0, 100, 80).difference(shapely.box(10, 10, 30, 30)).difference(
        shapely.box(60, 20, 90, 70))
    assert sorted(p.bounds for p in hole_free_parts(courtyards)) == [
        (0.0, 0.0, 20.0, 80.0), (20.0, 0.0, 75.0, 80.0), (75.0, 0.0, 100.0, 80.0)]

def test_tile_warns_of_each_image_its_labels_miss(run_cli, tmp_path):
    """Labels that miss an image (another place, a wrong --labels-crs) leave its patches
    without annotations: said once per such image, as make-masks says it of its mask."""
    near = tile(tmp_path, "near.tif", 100, 100, size=100)
    far = tile(tmp_path, "far.tif", 9000, 9000, size=100)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 110, Y0 - 150, X0 + 150, Y0 - 110)],
                     crs=UTM_CRS).to_file(labels)
    out = tmp_path / "both"
    result = run_cli("tile", near, far, "--labels", labels, "--annotations", "coco", "--size",
                     "50", "-o", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "no feature overlaps" in line]
    assert len(warned) == 1, result.stderr
    assert "labels.geojson" in warned[0] and "far.tif" in warned[0] and \
        "near.tif" not in warned[0] and "--labels-crs" in warned[0]
    assert len(json.loads((out / "annotations.json").read_text())["annotations"]) == 1
    # the right file in a wrong CRS misses every image: each is named (the first by name
    # in full, the others once more at the end)
    result = run_cli("tile", near, far, "--labels", labels, "--labels-crs", "EPSG:32617",
                     "--annotations", "coco", "--size", "50", "-o", tmp_path / "wrong")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "overlaps" in line]
    assert len(warned) == 2 and "no feature overlaps far.tif" in warned[0] and \
        warned[1].startswith("Warning: 1 more images (near.tif): no feature of their labels")
    # rows of a SpaceNet CSV name the images they belong to
    truth = tmp_path / "truth.csv"
    truth.write_text("ImageId,BuildingId,PolygonWKT_Pix\n"
                     'near,1,"POLYGON ((10 10,50 10,50 50,10 50,10 10))"\n')
    result = run_cli("tile", near, far, "--labels", truth, "--annotations", "coco", "--size",
                     "50", "-o", tmp_path / "csv")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
    assert len(warned) == 1 and "truth.csv has no row for far.tif" in warned[0]


def test_tile_labels_of_lines_name_a_fix_tile_users_have(run_cli, tmp_path):
    """tile annotates polygons and has no --line-width: lines (roads) are refused, or left
    out beside polygons, with a fix that works (buffer them first, or burn them with
    make-masks --line-width and tile the masks), not an option tile lacks."""
    image = tile(tmp_path, "scene.tif", 0, 0, size=100)
    road = shapely.LineString([(X0 + 5, Y0 - 50), (X0 + 95, Y0 - 50)])
    roads = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=[road], crs=UTM_CRS).to_file(roads)
    result = run_cli("tile", image, "--labels", roads, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "roads")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    for words in ("roads.geojson", "tile annotates polygons", "ST_Buffer",
                  "geotile make-masks", "--line-width", "--masks"):
        assert words in errors[0]
    assert "Give --line-width" not in errors[0]
    # the fix it names works
    assert run_cli("make-masks", roads, image, "--line-width", "4",
                   "-o", tmp_path / "roads.tif").exit_code == 0
    mixed = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame(geometry=[road, shapely.box(X0 + 10, Y0 - 30, X0 + 30, Y0 - 10)],
                     crs=UTM_CRS).to_file(mixed)
    result = run_cli("tile", image, "--labels", mixed, "--annotations", "coco", "--size", "50",
                     "-o", tmp_path / "mixed")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
    assert len(warned) == 1 and "1 line feature was left out" in warned[0]
    assert "ST_Buffer" in warned[0] and "geotile make-masks" in warned[0]
    assert "give --line-width" not in warned[0]
    coco = json.loads((tmp_path / "mixed" / "annotations.json").read_text())
    assert [a["area"] for a in coco["annotations"]] == [400.0]


def test_labels_on_a_plain_image_give_geotiles_warning_only(run_cli, tmp_path):
    """A photo without georeferencing takes labels in its pixel coordinates: geotile's own
    warning names it, rasterio's raw NotGeoreferencedWarning (no file named) is not shown
    beside it, for vector labels and a SpaceNet CSV alike."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    image = _write_photo(tmp_path / "photo.png", np.full((1, 64, 64), 9, np.uint8))
    labels = tmp_path / "pixels.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(10, 10, 30, 30)]).to_file(labels)
    truth = tmp_path / "truth.csv"
    truth.write_text("ImageId,BuildingId,PolygonWKT_Pix\n"
                     'photo,1,"POLYGON ((10 10,30 10,30 30,10 30,10 10))"\n')
    for source in (labels, truth):
        out = tmp_path / source.stem
        result = run_cli("tile", image, "--labels", source, "--annotations", "coco",
                         "--size", "64", "-o", out)
        assert result.exit_code == 0, result.output
        warned = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
        assert len(warned) == 1 and "photo.png" in warned[0], result.stderr
        coco = json.loads((out / "annotations.json").read_text())
        assert [a["bbox"] for a in coco["annotations"]] == [[10.0, 10.0, 20.0, 20.0]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image_regions([image])
    assert not [w for w in caught if issubclass(w.category, NotGeoreferencedWarning)]


def test_a_raster_naming_a_crs_without_a_geotransform_takes_pixel_labels(run_cli, tmp_path):
    """A raster that names a CRS but that no geotransform places (its patches are in pixel
    coordinates) takes labels in pixel coordinates without a CRS, as a plain photo does, in
    tile and make-masks; labels with a CRS get one message whose two fixes both work (it
    sent users round: "give labels without a CRS" -> "Pass --labels-crs" -> the first)."""
    from .conftest import write_without_transform

    image = write_without_transform(tmp_path / "nowhere.tif", np.full((1, 64, 64), 9, np.uint8),
                                    UTM_CRS)
    pixels = tmp_path / "pixels.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(10, 10, 30, 40)]).to_file(pixels)
    result = run_cli("tile", image, "--labels", pixels, "--annotations", "coco", "--size", "64",
                     "-o", tmp_path / "px")
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "px" / "annotations.json").read_text())
    assert [(a["bbox"], a["area"]) for a in coco["annotations"]] == \
        [([10.0, 10.0, 20.0, 30.0], 600.0)]
    result = run_cli("make-masks", pixels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        mask = src.read(1)
    assert int(mask.sum()) == 600 and mask[10:40, 10:30].all()
    mapped = tmp_path / "mapped.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 10, X0 + 10, Y0)],
                     crs=UTM_CRS).to_file(mapped)
    for command, labels, extra in (("tile", mapped, ()), ("tile", pixels, ("--labels-crs",
                                                                           UTM_CRS)),
                                   ("make-masks", mapped, ())):
        args = (image, "--labels", labels, "--annotations", "coco", "--size", "64",
                "-o", tmp_path / "o") if command == "tile" else \
            (labels, image, "-o", tmp_path / "o.tif")
        result = run_cli(command, *args, *extra)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert result.exit_code == 1 and len(errors) == 1, result.output
        for words in ("nowhere.tif", "no geotransform", labels.name, "gdal_translate -a_ullr",
                      "pixel coordinates", "declares no CRS", "--labels-crs pixels"):
            assert words in errors[0], errors[0]
        assert "Pass --labels-crs" not in result.stderr


def test_overlapping_parts_of_a_multipolygon_keep_their_overlap(run_cli, tmp_path):
    """One building given as a MultiPolygon of two overlapping boxes (pixels (10,10)-(60,60)
    and (40,40)-(90,90)): its COCO annotation and its mask hold the union, 4600 px, not the
    two boxes less their 400 px overlap (a hole in the building, as make_valid made it)."""
    x0, y0 = UTM_ORIGIN
    image = write_raster(tmp_path / "img.tif", np.full((128, 128), 7, np.uint8))
    multi = shapely.MultiPolygon([shapely.box(x0 + 5, y0 - 30, x0 + 30, y0 - 5),
                                  shapely.box(x0 + 20, y0 - 45, x0 + 45, y0 - 20)])
    labels = tmp_path / "multi.geojson"
    gpd.GeoDataFrame(geometry=[multi], crs=UTM_CRS).to_file(labels)
    result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size", "128",
                     "-o", tmp_path / "coco")
    assert result.exit_code == 0, result.output
    [annotation] = json.loads((tmp_path / "coco" / "annotations.json").read_text())["annotations"]
    assert annotation["area"] == 4600.0 and annotation["bbox"] == [10.0, 10.0, 80.0, 80.0]
    union = shapely.union_all([shapely.Polygon(np.reshape(s, (-1, 2)))
                               for s in annotation["segmentation"]])
    assert union.contains(shapely.Point(50, 50)) and union.area == 4600
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        mask = src.read(1)
    assert int(mask.sum()) == 4600 and mask[50, 50] == 1


def test_a_mask_or_a_folder_given_as_labels_is_named_so(run_cli, tmp_path):
    """tile --labels MASK.tif: a raster, for --masks (or polygonized first), said before any
    patch is cut; a folder: give a vector file. Not GDAL's '<DRIVER>:' prefix advice."""
    image = write_raster(tmp_path / "img.tif", np.full((64, 64), 7, np.uint8))
    mask = write_raster(tmp_path / "img_mask.tif", np.zeros((64, 64), np.uint8))
    folder = tmp_path / "labels"
    folder.mkdir()
    for labels, words in ((mask, ("is a raster", "--masks", "geotile vectorize")),
                          (folder, ("is a folder", "Give a vector file"))):
        result = run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                         "32", "-o", tmp_path / "o")
        assert_one_line_error(result, str(labels), *words)
        assert "<DRIVER>" not in result.stderr and not (tmp_path / "o").exists()


def test_class_names_are_written_as_utf8_whatever_the_locale(tmp_path):
    """Under a locale whose encoding is ASCII (LC_ALL=C without UTF-8 mode; a Windows code
    page likewise lacks most names), non-ASCII class names crashed writing classes.txt;
    tile's text (classes.txt, annotations.json, labels GeoJSON, index.csv) is UTF-8."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    x0, y0 = UTM_ORIGIN
    image = write_raster(tmp_path / "img.tif", np.full((64, 64), 7, np.uint8))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame({"cls": ["bâtiment", "车库"]},
                     geometry=[shapely.box(x0 + 2, y0 - 10, x0 + 10, y0 - 2),
                               shapely.box(x0 + 15, y0 - 25, x0 + 25, y0 - 15)],
                     crs=UTM_CRS).to_file(labels)
    root = Path(__file__).parents[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONIOENCODING", "PYTHONUTF8") and not k.startswith("LC_")}
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONPATH=str(root))
    probe = subprocess.run([sys.executable, "-c", "import locale; "
                            "print(locale.getpreferredencoding(False))"],
                           env=env, capture_output=True, text=True, check=True)
    assert "utf" not in probe.stdout.lower()  # the locale this test is about
    for kind in ("yolo", "coco"):
        out = tmp_path / kind
        run = subprocess.run([sys.executable, "-m", "geotile", "tile", str(image), "--labels",
                              str(labels), "--class-field", "cls", "--annotations", kind,
                              "--size", "32", "-o", str(out)],
                             env=env, cwd=root, capture_output=True)
        assert run.returncode == 0, run.stderr.decode("utf-8", "replace")
        assert b"Traceback" not in run.stderr
        names = {f["properties"]["class"]
                 for path in (out / "labels").glob("*.geojson")
                 for f in json.loads(path.read_text(encoding="utf-8"))["features"]}
        assert names == {"bâtiment", "车库"}
        assert (out / "index.csv").read_text(encoding="utf-8").startswith("image,")
    classes = (tmp_path / "yolo" / "labels" / "classes.txt").read_text(encoding="utf-8")
    assert classes.splitlines() == ["bâtiment", "车库"]
    coco = json.loads((tmp_path / "coco" / "annotations.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in coco["categories"]] == ["bâtiment", "车库"]


def antimeridian_scene(tmp_path, east_lon_offset: float = 0.0):
    """A 200 m UTM 1N image centred on lon 180 at 52 N, and two lon/lat boxes (60 x 100 m)
    one each side of the antimeridian; ``east_lon_offset`` 360 writes the eastern one with
    longitudes past 180 (the 0..360 convention)."""
    from pyproj import Transformer

    x180, y = Transformer.from_crs(4326, 32601, always_xy=True).transform(180.0, 52.0)
    image = write_raster(tmp_path / "am.tif", np.full((200, 200), 7, np.uint8),
                         crs="EPSG:32601", transform=from_origin(x180 - 100, y + 100, 1, 1))
    back = Transformer.from_crs(32601, 4326, always_xy=True)

    def lonlat_box(x0, x1, shift=0.0):
        return shapely.Polygon([(lon + shift, lat) for lon, lat in (
            back.transform(x, yy) for x, yy in ((x0, y + 50), (x1, y + 50), (x1, y - 50),
                                                (x0, y - 50)))])

    frame = gpd.GeoDataFrame({"c": [1, 2, 1]}, crs="EPSG:4326", geometry=[
        lonlat_box(x180 - 80, x180 - 20), lonlat_box(x180 + 20, x180 + 80, east_lon_offset),
        shapely.box(0.0, 51.9995, 0.001, 52.0005)])  # half the world away, same latitude
    return image, frame


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".shp", ".parquet", ".geojson"])
@pytest.mark.parametrize("east_lon_offset", [0.0, 360.0])
def test_lonlat_labels_either_side_of_the_antimeridian_are_all_burnt(
        tmp_path, monkeypatch, suffix, east_lon_offset):
    """A tile across lon 180: its box in lon/lat runs from 179.99 to -179.99 (both sides of
    the antimeridian); a GeoPackage read through it found nothing and wrote an empty mask,
    the other formats read every feature at that latitude."""
    image, frame = antimeridian_scene(tmp_path, east_lon_offset)
    path = tmp_path / f"am{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_file(path)
    monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)  # a GeoJSON read through the boxes
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"], class_field="c")
    with rasterio.open(image) as src:
        near = frame.iloc[:2]
        expected = rasterize(zip(near.to_crs(src.crs).geometry, near["c"], strict=True),
                             out_shape=src.shape, transform=src.transform, dtype="uint8")
    [got] = masks_of([tmp_path / "m.tif"])
    assert (expected == 1).sum() == (expected == 2).sum() == 6000
    np.testing.assert_array_equal(got[0], expected)
    assert summary["features"] == 2 and summary["positive_pixels"] == 12000
    assert len(read_labels(path, regions=image_regions([image]))) == 2


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".shp", ".parquet", ".geojson"])
@pytest.mark.parametrize("crs", [UTM_CRS, "EPSG:4326"])
def test_a_road_along_the_image_edge_is_burnt_as_wide_as_it_is(tmp_path, monkeypatch, suffix,
                                                                crs):
    """A road whose centreline runs 3 m north of the image, 10 m wide, covers its top 2 rows;
    the features were read through the image's box before the lines were widened, so every
    format but a small GeoJSON missed it (exit 0, empty mask)."""
    from geotile.masks import MaskOptions

    image = tile(tmp_path, "a.tif", 100, 100)
    road = shapely.LineString([(X0 + 110, Y0 - 97), (X0 + 190, Y0 - 97)])
    far = shapely.LineString([(X0 + 110, Y0 - 80), (X0 + 190, Y0 - 80)])  # 20 m off: not
    frame = gpd.GeoDataFrame(geometry=[road, far], crs=UTM_CRS).to_crs(crs)
    path = tmp_path / f"roads{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_file(path)
    monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)  # a GeoJSON read through the boxes
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"],
                           options=MaskOptions(line_width=10))
    with rasterio.open(image) as src:
        expected = rasterize([road.buffer(5)], out_shape=src.shape, transform=src.transform,
                             dtype="uint8")
    [got] = masks_of([tmp_path / "m.tif"])
    assert expected[:2, 10:90].all() and not expected[2:].any()
    assert np.count_nonzero(got[0] != expected) <= (0 if crs == UTM_CRS else 2)
    assert summary["features"] == 1


@pytest.mark.parametrize("kind", ["CurvePolygon", "MultiSurface"])
def test_geopackage_of_curved_geometries_is_read_as_gdal_linearises_it(tmp_path, monkeypatch,
                                                                       kind):
    """Arcs (CurvePolygon, MultiSurface: Esri and cadastral exports) made the SQLite reader
    raise, refusing the file as "not vector data GDAL can read"; GDAL reads it."""
    import struct

    import pyogrio.raw

    x, y, radius = X0 + 50, Y0 - 50, 10.0
    circle = [(x - radius, y), (x, y + radius), (x + radius, y), (x, y - radius),
              (x - radius, y)]
    wkb = struct.pack("<BII", 1, 10, 1) + struct.pack("<BII", 1, 8, len(circle)) + \
        b"".join(struct.pack("<dd", *p) for p in circle)  # CurvePolygon of a CircularString
    if kind == "MultiSurface":
        wkb = struct.pack("<BII", 1, 12, 1) + wkb
    path = tmp_path / "arcs.gpkg"
    pyogrio.raw.write(path, geometry=np.array([wkb], dtype=object), field_data=[], fields=[],
                      crs=UTM_CRS, geometry_type="Unknown", driver="GPKG")
    image = tile(tmp_path, "a.tif", 0, 0)
    expected = full_read_masks(monkeypatch, path, [image], tmp_path)
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"])
    [got] = masks_of([tmp_path / "m.tif"])
    np.testing.assert_array_equal(got, expected[0])
    assert abs(summary["positive_pixels"] - np.pi * radius**2) < 10  # a disc of 1 m pixels


def test_tile_maps_class_ids_with_class_map_as_make_masks(run_cli, tmp_path):
    """Class ids 0 and 7 (datasets numbering from 0): tile refuses 0 naming --class-map,
    and takes --class-map as make-masks does (0 -> 1, 7 -> 2)."""
    image = tile(tmp_path, "scene.tif", 0, 0, size=100)
    labels = tmp_path / "ids.gpkg"
    gpd.GeoDataFrame({"cid": [0, 7]}, geometry=[shapely.box(X0 + 10, Y0 - 20, X0 + 30, Y0 - 10),
                                                shapely.box(X0 + 50, Y0 - 90, X0 + 60, Y0 - 50)],
                     crs=UTM_CRS).to_file(labels)
    args = ("tile", image, "--labels", labels, "--class-field", "cid", "--annotations", "coco",
            "--size", 100)
    result = run_cli(*args, "-o", tmp_path / "refused")
    assert_one_line_error(result, "ids.gpkg", "class id 0", "--class-map")
    assert not (tmp_path / "refused").exists()
    mapping = tmp_path / "classes.json"
    mapping.write_text('{"0": 1, "7": 2}')
    result = run_cli(*args, "--class-map", mapping, "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "o" / "annotations.json").read_text())
    assert {c["id"]: c["name"] for c in coco["categories"]} == {1: "0", 2: "7"}
    assert sorted((a["category_id"], a["area"]) for a in coco["annotations"]) == \
        [(1, 200.0), (2, 400.0)]
    result = run_cli("tile", image, "--labels", labels, "--class-map", mapping, "--size", 100,
                     "-o", tmp_path / "nofield")
    assert_one_line_error(result, "--class-map", "--class-field", code=2)
    result = run_cli("tile", image, "--class-field", "cid", "--class-map", mapping, "--size",
                     100, "-o", tmp_path / "nolabels")
    assert_one_line_error(result, "--class-map", "--labels", code=2)


def test_tile_reads_one_layer_of_a_geopackage_with_layer_before_cutting(run_cli, tmp_path,
                                                                        monkeypatch):
    """A GeoPackage of two polygon layers (buildings, fields): tile refuses it naming
    --layer before any patch is cut, and takes --layer as make-masks does."""
    import geotile.tiling as tiling

    image = tile(tmp_path, "scene.tif", 0, 0, size=100)
    labels = tmp_path / "project.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 10, Y0 - 20, X0 + 30, Y0 - 10)],
                     crs=UTM_CRS).to_file(labels, layer="buildings")
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 40, Y0 - 90, X0 + 90, Y0 - 40)],
                     crs=UTM_CRS).to_file(labels, layer="fields")
    cut = []
    part = tiling._tile_part
    monkeypatch.setattr(tiling, "_tile_part", lambda *a, **k: cut.append(a[0]) or part(*a, **k))
    args = ("tile", image, "--labels", labels, "--annotations", "coco", "--size", 50)
    result = run_cli(*args, "-o", tmp_path / "refused")
    assert_one_line_error(result, "project.gpkg", "buildings, fields", "--layer NAME")
    assert cut == [] and not (tmp_path / "refused").exists()
    for layer, area in (("buildings", 200.0), ("fields", 2500.0)):
        result = run_cli(*args, "--layer", layer, "-o", tmp_path / layer)
        assert result.exit_code == 0, result.output
        coco = json.loads((tmp_path / layer / "annotations.json").read_text())
        assert sum(a["area"] for a in coco["annotations"]) == area
    result = run_cli(*args, "--layer", "roads", "-o", tmp_path / "roads")
    assert_one_line_error(result, "project.gpkg", "no layer 'roads'", "buildings, fields")
    result = run_cli("tile", image, "--layer", "fields", "-o", tmp_path / "nolabels")
    assert_one_line_error(result, "--layer", "--labels", code=2)


def test_tile_resume_compares_the_labels_file_not_its_spelling(run_cli, tmp_path, monkeypatch):
    """--resume with --labels given relative, absolute or from another folder: the same
    file, so a complete output is left as it is (and one whose labels changed is redone),
    not refused as the output of other inputs."""
    image = tile(tmp_path, "scene.tif", 0, 0, size=100)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 10, Y0 - 20, X0 + 30, Y0 - 10)],
                     crs=UTM_CRS).to_file(labels)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    options = ("--annotations", "coco", "--size", 50, "--resume")
    result = run_cli("tile", "scene.tif", "--labels", "labels.geojson", *options, "-o", "out")
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / "annotations.json").stat().st_mtime_ns
    result = run_cli("tile", image, "--labels", labels, *options, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "sub")
    result = run_cli("tile", "../scene.tif", "--labels", "../labels.geojson", *options,
                     "-o", "../out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "annotations.json").stat().st_mtime_ns == written
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 10, Y0 - 40, X0 + 30, Y0 - 10)],
                     crs=UTM_CRS).to_file(labels, mode="w")
    result = run_cli("tile", image, "--labels", labels, *options, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert [a["area"] for a in coco["annotations"]] == [600.0]


def test_geojson_pixel_labels_on_a_plain_photo_are_refused_naming_a_working_fix(
        run_cli, tmp_path, monkeypatch):
    """A photo without georeferencing and labels in its pixel coordinates written as GeoJSON
    (no crs member, so lon/lat by RFC 7946): tile refuses before any patch is cut and,
    as make-masks, says GeoJSON is lon/lat and which files hold pixel coordinates."""


    import geotile.tiling as tiling

    image = _write_photo(tmp_path / "photo.png", np.full((1, 400, 500), 9, np.uint8))
    labels = tmp_path / "pixels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(
            shapely.box(100, 100, 300, 150)))}]}))
    cut = []
    part = tiling._tile_part
    monkeypatch.setattr(tiling, "_tile_part", lambda *a, **k: cut.append(a[0]) or part(*a, **k))
    for command, args in (("tile", (image, "--labels", labels, "--annotations", "coco",
                                    "--size", 128, "--format", "png", "-o", tmp_path / "o")),
                          ("make-masks", (labels, image, "-o", tmp_path / "m.tif"))):
        result = run_cli(command, *args)
        assert_one_line_error(result, "photo.png", "pixels.geojson", "no georeferencing",
                              "GeoJSON coordinates are otherwise longitude/latitude (RFC 7946)",
                              "GeoPackage or Shapefile that declares no CRS",
                              "gdal_translate -a_srs")
    assert cut == [] and not (tmp_path / "o").exists() and not (tmp_path / "m.tif").exists()


def _write_photo(path, pixels):
    """An unreferenced PNG of ``pixels`` (bands, rows, cols): a photo, no CRS nor transform."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    count, height, width = pixels.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="PNG", width=width, height=height, count=count,
                           dtype=pixels.dtype) as dst:
            dst.write(pixels)
    return path


# --- lon/lat images at the antimeridian: labels put into the image's own longitudes ---------

#: a 108 x 68 m building astride lon 180 at 17 S (Fiji), written with longitudes past 180
BUILDING = shapely.box(179.9995, -17.0008, 180.0005, -17.0002)


def lonlat_tile(tmp_path, west: float):
    """A 200 x 100 px EPSG:4326 image of 1e-5 degree pixels from lon ``west``, lat -17."""
    return write_raster(tmp_path / f"geo{west}.tif", np.full((100, 200), 7, np.uint8),
                        crs="EPSG:4326", transform=from_origin(west, -17.0, 1e-5, 1e-5))


def building_on(image) -> np.ndarray:
    """BUILDING burnt on ``image``, moved by 360 degrees into its longitudes."""
    with rasterio.open(image) as src:
        shift = -360.0 if src.bounds.left < 0 else 0.0
        return rasterize([(shapely.affinity.translate(BUILDING, shift), 1)],
                         out_shape=src.shape, transform=src.transform, dtype="uint8")


def web_mercator_building():
    """BUILDING in EPSG:3857 metres, continuous past x 20037508.34 (lon 180)."""
    from pyproj import Transformer

    radius = 6378137.0
    ys = Transformer.from_crs(4326, 3857, always_xy=True).transform([0, 0], [-17.0008, -17.0002])[1]
    return shapely.box(radius * np.radians(179.9995), ys[0], radius * np.radians(180.0005), ys[1])


@pytest.mark.parametrize("west", [179.998, 179.999, -180.0, -180.001])
@pytest.mark.parametrize("source", ["utm60", "webmercator"])
def test_projected_labels_across_the_antimeridian_burn_on_a_lonlat_image(tmp_path, west,
                                                                          source):
    """A building in UTM 60S (or Web Mercator) astride lon 180, on EPSG:4326 tiles: PROJ gave
    its eastern corners lon -179.9995, a ring round the rest of the world, so the background
    west of it was burnt and the building left empty (12000 of 20000 px wrong)."""
    if source == "utm60":
        frame = gpd.GeoDataFrame(geometry=[BUILDING], crs="EPSG:4326").to_crs("EPSG:32760")
        assert frame.total_bounds[2] - frame.total_bounds[0] < 120  # continuous metres
    else:
        frame = gpd.GeoDataFrame(geometry=[web_mercator_building()], crs="EPSG:3857")
    path = tmp_path / "b.gpkg"
    frame.to_file(path)
    image = lonlat_tile(tmp_path, west)
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"])
    expected = building_on(image)
    assert expected.sum() in (3000, 6000)
    [got] = masks_of([tmp_path / "m.tif"])
    np.testing.assert_array_equal(got[0], expected)
    assert summary["positive_pixels"] == expected.sum()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
@pytest.mark.parametrize("west", [179.999, -180.001, 179.998, -180.0])
@pytest.mark.parametrize("written", ["split", "past180", "before-180"])
def test_lonlat_labels_burn_on_a_lonlat_image_reaching_past_180(tmp_path, monkeypatch, suffix,
                                                                west, written):
    """An EPSG:4326 tile reaching past lon 180 (179.999..180.001, as gdalwarp writes one), or
    before -180, and the building written split at 180 (RFC 7946), past 180 or before -180:
    the part written on the other side was lost (3000 of its 6000 px)."""
    geometry = {"split": shapely.MultiPolygon([shapely.box(179.9995, -17.0008, 180, -17.0002),
                                               shapely.box(-180, -17.0008, -179.9995, -17.0002)]),
                "past180": BUILDING,
                "before-180": shapely.affinity.translate(BUILDING, -360.0)}[written]
    far = shapely.box(0.0, -17.0008, 0.001, -17.0002)  # half the world away
    frame = gpd.GeoDataFrame({"c": [1, 2]}, geometry=[geometry, far], crs="EPSG:4326")
    path = tmp_path / f"b{suffix}"
    frame.to_file(path)
    monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)  # a GeoJSON read through the boxes
    image = lonlat_tile(tmp_path, west)
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"], class_field="c")
    expected = building_on(image)
    [got] = masks_of([tmp_path / "m.tif"])
    np.testing.assert_array_equal(got[0], expected)
    assert summary["positive_pixels"] == expected.sum() and summary["features"] == 1


@pytest.mark.parametrize("west, east", [(-100.0, 90.0), (-175.0, 10.0)])
def test_a_web_mercator_polygon_wider_than_180_degrees_is_not_moved_on_a_lonlat_image(
        tmp_path, west, east):
    """A land-cover box in EPSG:3857 from lon -100 to 90 (4 corners) was taken as cut by
    PROJ at 180 for being wider than 180 degrees and moved to lon 90..260, off a tile at
    lon 5: its 9100 px were left 0. Only geometries PROJ cut at 180 are made whole."""
    wide = shapely.Polygon([(west, 0), (east, 0), (east, 10), (west, 10)])
    frame = gpd.GeoDataFrame({"c": [2, 1]}, geometry=[wide, shapely.box(5.02, 5.02, 5.05, 5.05)],
                             crs="EPSG:4326").to_crs("EPSG:3857")
    path = tmp_path / "wide.gpkg"
    frame.to_file(path)
    image = write_raster(tmp_path / "t.tif", np.zeros((100, 100), np.uint8), crs="EPSG:4326",
                         transform=from_origin(5.0, 5.1, 0.001, 0.001))
    [summary] = make_masks(path, [image], [tmp_path / "m.tif"], class_field="c")
    [got] = masks_of([tmp_path / "m.tif"])
    assert summary["features"] == 2
    assert [int((got[0] == c).sum()) for c in (0, 1, 2)] == [0, 900, 9100]


@pytest.mark.parametrize("kind", ["coco", "yolo"])
def test_features_named_background_are_no_instances(run_cli, tmp_path, kind):
    """A feature whose class names background ('background', burnt as 0 in the masks) was
    written as an instance: YOLO class index -1 (Ultralytics drops the patch's labels as
    corrupt: 'negative label values'), COCO category_id 0, a category the file does not list
    (detectron2's id map has no 0). It is no object: the annotations leave it out."""
    image = write_raster(tmp_path / "img.tif", np.full((64, 64), 7, np.uint8),
                         transform=from_origin(X0, Y0, 1, 1))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame({"kind": ["house", "background", "shed"]},
                     geometry=[shapely.box(X0 + 2, Y0 - 20, X0 + 20, Y0 - 2),
                               shapely.box(X0 + 30, Y0 - 40, X0 + 50, Y0 - 30),
                               shapely.box(X0 + 5, Y0 - 60, X0 + 25, Y0 - 45)],
                     crs=UTM_CRS).to_file(labels)
    out = tmp_path / kind
    result = run_cli("tile", image, "--labels", labels, "--class-field", "kind",
                     "--annotations", kind, "--size", "64", "-o", out)
    assert result.exit_code == 0, result.output
    assert "names background" in result.stderr
    if kind == "coco":
        coco = json.loads((out / "annotations.json").read_text())
        assert coco["categories"] == [{"id": 1, "name": "house", "supercategory": "none"},
                                      {"id": 2, "name": "shed", "supercategory": "none"}]
        assert [(a["id"], a["category_id"], a["bbox"]) for a in coco["annotations"]] == \
            [(1, 1, [2.0, 2.0, 18.0, 18.0]), (2, 2, [5.0, 45.0, 20.0, 15.0])]
    else:
        lines = (out / "labels" / "img_0_0.txt").read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["0", "1"]
        assert (out / "labels" / "classes.txt").read_text().split() == ["house", "shed"]


def test_tile_coco_of_lonlat_labels_that_reprojection_makes_invalid(run_cli, tmp_path):
    # a ring that runs back along one of its own edges (valid once repaired, in lon/lat);
    # moved to UTM the repaired polygon crosses itself by a nanometre: tile --annotations
    # coco raised GEOS' TopologyException from the clip to each patch
    crs, (x0, y0) = "EPSG:32632", (500000.0, 5600000.0)

    def at(x, y):
        return x0 + x, y0 - y
    ring = [at(40, 40), at(70, 40), at(70, 70), at(55, 70), at(55, 55.1), at(50.3, 60.13),
            at(55, 65.1), at(55, 70), at(40, 70)]
    metric = gpd.GeoDataFrame({"kind": ["forest"]}, geometry=[shapely.Polygon(ring)],
                              crs=crs)
    image = write_raster(tmp_path / "scene.tif", np.full((256, 256), 7, np.uint8), crs=crs,
                         transform=from_origin(x0, y0, 0.5, 0.5))
    areas = []
    for name, frame in (("utm.gpkg", metric), ("lonlat.gpkg", metric.to_crs(4326))):
        frame.to_file(tmp_path / name)
        out = tmp_path / name.replace(".", "_")
        result = run_cli("tile", image, "--labels", tmp_path / name, "--class-field",
                         "kind", "--annotations", "coco", "--size", "128", "-o", out)
        assert result.exit_code == 0, result.output
        coco = json.loads((out / "annotations.json").read_text())
        areas.append(sorted(a["area"] for a in coco["annotations"]))
    assert len(areas[0]) > 1
    assert areas[1] == pytest.approx(areas[0], rel=1e-6)
