"""tile: patch counts, pixels equal to the source at the patch bounds, masks, formats, splits."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import from_bounds

from geotile.errors import GeotileWarning, InputError, OutputExistsError
from geotile.tiling import TileOptions, tile_rasters
from tests.conftest import UTM_ORIGIN


def read_index(outdir):
    with (outdir / "index.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def spacenet_like(make_raster):
    rng = np.random.default_rng(0)
    image = make_raster("tile.tif", rng.integers(0, 2000, (3, 900, 900), dtype=np.uint16))
    mask = make_raster("tile_mask.tif", (rng.random((900, 900)) > 0.9).astype(np.uint8))
    return image, mask


@pytest.mark.parametrize(("edge", "count"), [("drop", 16), ("shift", 25), ("pad", 25)])
def test_900px_at_224(spacenet_like, tmp_path, edge, count):
    image, mask = spacenet_like
    out = tmp_path / "patches"
    summary = tile_rasters([image], [mask], out, options=TileOptions(size=224, edge=edge))
    rows = read_index(out)
    assert summary.written == count == len(rows)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tif"))
    assert files == sorted([r["image"] for r in rows] + [r["mask"] for r in rows])
    with rasterio.open(image) as src, rasterio.open(mask) as msrc:
        for row in rows:
            with rasterio.open(out / row["image"]) as patch, rasterio.open(out / row["mask"]) as m:
                assert patch.crs == src.crs and patch.dtypes == src.dtypes
                assert (patch.width, patch.height) == (224, 224)
                assert m.transform == patch.transform
                # read the source at the patch's own bounds, independently of our offsets
                window = from_bounds(*patch.bounds, transform=src.transform)
                expected = src.read(window=window, boundless=True, fill_value=0)
                np.testing.assert_array_equal(patch.read(), expected)
                # past the image's edge (padding) the mask is 255, the ignore value
                np.testing.assert_array_equal(
                    m.read(), msrc.read(window=window, boundless=True, fill_value=255)
                )
                # the ignore value is declared by every mask patch, padded or not
                assert m.nodata == 255
                assert tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy")) == \
                    pytest.approx(tuple(patch.bounds))
                positive = float(np.count_nonzero(m.read(1) == 1)) / 224**2
                assert float(row["positive_fraction"]) == pytest.approx(positive, abs=1e-6)
    if edge == "pad":
        last = next(r for r in rows if r["row"] == "4" and r["col"] == "4")
        assert float(last["nodata_fraction"]) == pytest.approx(1 - (900 - 896) ** 2 / 224**2)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
@pytest.mark.parametrize("bands", [1, 4])
def test_dtypes_and_band_counts_are_kept(make_raster, tmp_path, dtype, bands):
    rng = np.random.default_rng(1)
    array = (rng.random((bands, 70, 50)) * 100).astype(dtype)
    image = make_raster("img.tif", array, nodata=-1 if dtype in ("int16", "float32") else None)
    tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=32, overlap=8))
    rows = read_index(tmp_path / "out")
    assert len(rows) == 3 * 2
    for row in rows:
        with rasterio.open(tmp_path / "out" / row["image"]) as patch:
            assert patch.count == bands and patch.dtypes[0] == dtype
            x, y = int(row["x_off"]), int(row["y_off"])
            np.testing.assert_array_equal(patch.read(), array[:, y : y + 32, x : x + 32])
            assert patch.nodata == (-1 if dtype in ("int16", "float32") else None)


def test_npy_and_png_formats(spacenet_like, make_raster, tmp_path):
    image, mask = spacenet_like
    tile_rasters([image], [mask], tmp_path / "npy", options=TileOptions(size=300, fmt="npy"))
    rows = read_index(tmp_path / "npy")
    first = np.load(tmp_path / "npy" / rows[0]["image"])
    with rasterio.open(image) as src:
        np.testing.assert_array_equal(first, src.read(window=((0, 300), (0, 300))))
    tile_rasters([image], [mask], tmp_path / "png", options=TileOptions(size=300, fmt="png"))
    png_path = tmp_path / "png" / "images" / "tile_1_2.png"
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), rasterio.open(png_path) as png:
        pixels = png.read()
    with rasterio.open(image) as src:
        np.testing.assert_array_equal(pixels, src.read(window=((300, 600), (600, 900))))
    floats = make_raster("f.tif", np.zeros((1, 40, 40), np.float32))
    with pytest.raises(InputError, match=r"PNG holds only uint8/uint16.*--format tif"):
        tile_rasters([floats], None, tmp_path / "f", options=TileOptions(size=20, fmt="png"))
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.int32])
def test_png_refuses_a_mask_it_cannot_hold_naming_the_mask(make_raster, tmp_path, dtype):
    """gdal_rasterize writes Float64 masks; ArcGIS/QGIS class rasters are often int16/int32:
    PNG refuses them up front naming the mask (not a patch), before any image is cut."""
    first = make_raster("a.tif", np.ones((3, 40, 40), np.uint8))
    second = make_raster("b.tif", np.ones((3, 40, 40), np.uint8))
    good = make_raster("a_mask.tif", np.ones((1, 40, 40), np.uint8))
    bad = make_raster("b_mask.tif", np.ones((1, 40, 40), dtype))
    with pytest.raises(InputError) as caught:
        tile_rasters([first, second], [good, bad], tmp_path / "out",
                     options=TileOptions(size=20, fmt="png"))
    text = str(caught.value)
    assert text.startswith(f"{bad}: ") and np.dtype(dtype).name in text
    assert "--format tif or --format npy" in text and "\n" not in text
    assert not (tmp_path / "out").exists()


def test_skip_empty_and_max_nodata(make_raster, tmp_path):
    array = np.full((1, 64, 64), 7, np.uint8)
    array[:, :, 32:] = 0  # right half nodata
    image = make_raster("img.tif", array, nodata=0)
    labels = np.zeros((64, 64), np.uint8)
    labels[5, 5] = 1  # only the top-left patch has a positive pixel
    mask = make_raster("mask.tif", labels)
    summary = tile_rasters([image], [mask], tmp_path / "a",
                           options=TileOptions(size=32, skip_empty=True))
    assert summary.written == 1 and summary.skipped_empty == 3
    summary = tile_rasters([image], [mask], tmp_path / "b",
                           options=TileOptions(size=32, max_nodata=0.5))
    rows = read_index(tmp_path / "b")
    assert summary.written == 2 and {r["col"] for r in rows} == {"0"}
    assert all(float(r["nodata_fraction"]) == 0 for r in rows)


def test_real_landsat_nodata_border(real_data, tmp_path):
    image = real_data / "rasterio" / "RGB.byte.tif"
    summary = tile_rasters([image], None, tmp_path / "all", options=TileOptions(size=128))
    rows = read_index(tmp_path / "all")
    fractions = np.array([float(r["nodata_fraction"]) for r in rows])
    assert fractions.max() > 0.9 and fractions.min() == 0  # corners are black, centre is data
    kept = tile_rasters([image], None, tmp_path / "some",
                        options=TileOptions(size=128, max_nodata=0.25))
    assert 0 < kept.written < summary.written == len(rows)
    assert kept.written == int((fractions <= 0.25).sum())


def test_real_alpha_band_counts_as_nodata(real_data, tmp_path):
    tile_rasters([real_data / "rasterio" / "alpha.tif"], None, tmp_path / "out",
                 options=TileOptions(size=256))
    with rasterio.open(real_data / "rasterio" / "alpha.tif") as src:
        alpha = src.read(4)
    rows = read_index(tmp_path / "out")
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        expected = float((alpha[y : y + 256, x : x + 256] == 0).mean())
        assert float(row["nodata_fraction"]) == pytest.approx(expected, abs=1e-6)


def _windows_by_split(rows):
    by_split = {}
    for r in rows:
        x, y = int(r["x_off"]), int(r["y_off"])
        by_split.setdefault((r["split"], r["source"]), []).append(
            (x, y, x + int(r["width"]), y + int(r["height"])))
    return by_split


def _assert_splits_share_no_pixel(rows):
    by_split = _windows_by_split(rows)
    for (split_a, source_a), windows_a in by_split.items():
        for (split_b, source_b), windows_b in by_split.items():
            if split_a >= split_b or source_a != source_b:
                continue
            a = np.array(windows_a)[:, None, :]
            b = np.array(windows_b)[None, :, :]
            overlap = ((a[..., 0] < b[..., 2]) & (b[..., 0] < a[..., 2])
                       & (a[..., 1] < b[..., 3]) & (b[..., 1] < a[..., 3]))
            assert not overlap.any(), (split_a, split_b, int(overlap.sum()))


@pytest.mark.parametrize(("size", "overlap", "edge", "split"), [
    (64, 16, "shift", (0.7, 0.15, 0.15)),
    (32, 0, "shift", (0.8, 0.1, 0.1)),
    (100, 50, "pad", (0.8, 0.2)),
    (64, 32, "shift", (0.6, 0.2, 0.2)),
])
def test_splits_share_no_pixel_and_keep_proportions(spacenet_like, make_raster, tmp_path, size,
                                                     overlap, edge, split):
    """No val/test patch shares a pixel with a train patch (nor val with test), with
    --overlap and shifted edge patches; the proportions stay close to those asked."""
    image, _ = spacenet_like
    second = make_raster("second.tif", np.ones((3, 700, 500), np.uint16))
    options = TileOptions(size=size, overlap=overlap, edge=edge, split=split, seed=7)
    summary = tile_rasters([image, second], None, tmp_path / "a", options=options)
    rows = read_index(tmp_path / "a")
    _assert_splits_share_no_pixel(rows)
    counts = {name: sum(r["split"] == name for r in rows) for name in ("train", "val", "test")}
    assert summary.per_split == {k: v for k, v in counts.items() if v}
    for name, fraction in zip(("train", "val", "test"), split, strict=False):
        assert abs(counts[name] - fraction * len(rows)) <= 6, counts  # a few patches
    from geotile.grid import Grid
    total = len(Grid(900, 900, size, overlap, edge)) + len(Grid(500, 700, size, overlap, edge))
    assert summary.written + summary.excluded_gap == total == len(rows) + summary.excluded_gap
    assert summary.excluded_gap < 0.25 * total
    # deterministic for a seed, another seed gives other splits
    tile_rasters([image, second], None, tmp_path / "b", options=options)
    assert read_index(tmp_path / "b") == rows
    other = TileOptions(size=size, overlap=overlap, edge=edge, split=split, seed=8)
    tile_rasters([image, second], None, tmp_path / "c", options=other)
    assert [r["split"] for r in read_index(tmp_path / "c")] != [r["split"] for r in rows]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_proportions_are_those_of_the_kept_patches(make_raster, tmp_path, seed):
    """Buildings in a town on the left and in one corner (fields elsewhere): with
    --skip-empty the kept patches still split 0.6/0.2/0.2 within a few patches (the blocks
    were planned on the unfiltered grid: up to 19 patches off), whole blocks only."""
    mask = np.zeros((750, 1000), np.uint8)
    mask[:, :350] = 1
    mask[500:, 750:] = 1
    image = make_raster("town.tif", np.full((1, 750, 1000), 7, np.uint8))
    mask_path = make_raster("town_mask.tif", mask[None])
    options = TileOptions(size=50, overlap=10, split=(0.6, 0.2, 0.2), seed=seed,
                          skip_empty=True, fmt="npy")
    summary = tile_rasters([image], [mask_path], tmp_path / "a", options=options)
    rows = read_index(tmp_path / "a")
    assert all(float(r["positive_fraction"]) > 0 for r in rows)
    _assert_splits_share_no_pixel(rows)
    counts = {name: sum(r["split"] == name for r in rows) for name in ("train", "val", "test")}
    assert summary.per_split == counts
    for name, fraction in zip(("train", "val", "test"), (0.6, 0.2, 0.2), strict=True):
        assert abs(counts[name] - fraction * len(rows)) <= 4, counts
    assert summary.excluded_gap < 0.25 * (len(rows) + summary.excluded_gap)
    tile_rasters([image], [mask_path], tmp_path / "b", options=options)
    assert read_index(tmp_path / "b") == rows
    # --max-nodata too: a raster whose right half is nodata
    pixels = np.full((1, 750, 1000), 7, np.uint8)
    pixels[:, :, 400:] = 0
    half = make_raster("half.tif", pixels, nodata=0)
    options = TileOptions(size=50, overlap=10, split=(0.6, 0.2, 0.2), seed=seed,
                          max_nodata=0.0, fmt="npy")
    tile_rasters([half], None, tmp_path / "c", options=options)
    rows = read_index(tmp_path / "c")
    assert rows and all(float(r["nodata_fraction"]) == 0 for r in rows)
    counts = {name: sum(r["split"] == name for r in rows) for name in ("train", "val", "test")}
    for name, fraction in zip(("train", "val", "test"), (0.6, 0.2, 0.2), strict=True):
        assert abs(counts[name] - fraction * len(rows)) <= 4, counts


def test_split_does_not_depend_on_the_order_the_images_are_given(make_raster, tmp_path):
    """The same images and --seed give every patch the same split whether the images come
    as a glob, reversed or from a folder (41 of 150 patches changed split when reversed)."""
    rng = np.random.default_rng(1)
    images = [make_raster(f"t_{i}.tif", rng.integers(0, 255, (1, 300, 300), dtype=np.uint8))
              for i in range(6)]
    options = TileOptions(size=64, split=(0.8, 0.1, 0.1), seed=42, fmt="npy")
    tile_rasters(images, None, tmp_path / "a", options=options)
    tile_rasters(images[::-1], None, tmp_path / "b", options=options)
    forward = {r["image"]: r["split"] for r in read_index(tmp_path / "a")}
    backward = {r["image"]: r["split"] for r in read_index(tmp_path / "b")}
    assert forward == backward


def test_one_split_keeps_every_patch(spacenet_like, tmp_path):
    image, _ = spacenet_like
    summary = tile_rasters([image], None, tmp_path / "a",
                           options=TileOptions(size=64, overlap=32, split=(1.0,)))
    assert summary.excluded_gap == 0 and summary.per_split == {"train": summary.written}


def test_bad_inputs(spacenet_like, make_raster, real_data, tmp_path):
    image, mask = spacenet_like
    with pytest.raises(InputError, match=r"smaller than the 1000 px patch.*--edge pad"):
        tile_rasters([image], None, tmp_path / "x", options=TileOptions(size=1000, edge="drop"))
    with pytest.raises(InputError, match="sum to 1"):
        TileOptions(split=(0.5, 0.1))
    with pytest.raises(InputError, match="1 image but 2 masks"):
        tile_rasters([image], [mask, mask], tmp_path / "x")
    other = make_raster("other_mask.tif", np.zeros((100, 100), np.uint8))
    with pytest.raises(InputError, match=r"other_mask.tif: the mask's grid differs from "
                                         r".*: 100x100 px against 900x900"):
        tile_rasters([image], [other], tmp_path / "x")
    with pytest.raises(InputError, match=r"all-nodata.tif: every patch has more than"):
        tile_rasters([real_data / "rasterio" / "all-nodata.tif"], None, tmp_path / "x",
                     options=TileOptions(size=64, max_nodata=0.5))
    with pytest.raises(InputError, match=r"corrupt.tif: pixel data cannot be read"):
        tile_rasters([real_data / "rasterio" / "corrupt.tif"], None, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    tile_rasters([image], None, tmp_path / "done", options=TileOptions(size=450))
    with pytest.raises(OutputExistsError, match="--overwrite"):
        tile_rasters([image], None, tmp_path / "done")


def test_streams_one_band_of_rows(monkeypatch, spacenet_like, tmp_path):
    """No read covers more than one patch row (size rows) of the image."""
    import geotile.raster as raster

    heights = []
    original = raster.read_window

    def spy(src, window=None, *args, **kwargs):
        heights.append(int(window.height) if window is not None else src.height)
        return original(src, window, *args, **kwargs)

    monkeypatch.setattr(raster, "read_window", spy)
    image, mask = spacenet_like
    tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=100))
    assert max(heights) <= 512 and heights.count(100) == 2 * 9


def test_wide_rows_read_in_runs_and_few_patches_wait(monkeypatch, make_raster, tmp_path):
    """A row of patches is read in runs of at most BAND_PIXELS pixels, not across the
    raster's width (a 100,000 x 2048 strip at --size 1024 held 1.5 GB for two rows of
    patches), and no more patches wait for the writers than make BAND_PIXELS (each holds
    its run: 20000 px at --size 2048 --overlap 0.25 held 2.8 GB, 64 patches' rows, the
    whole raster). The patches are those of whole-row reads, padding and nodata included."""
    import time

    import geotile.raster as raster
    import geotile.tiling as tiling
    from geotile.patch_writer import PatchWriter

    rng = np.random.default_rng(5)
    pixels = rng.integers(1, 255, (3, 130, 1000), dtype=np.uint8)
    pixels[:, :20, :30] = 0  # nodata, at a run's start
    tiled = {"tiled": True, "blockxsize": 64, "blockysize": 64}  # striped: whole rows
    image = make_raster("wide.tif", pixels, nodata=0, **tiled)
    mask = make_raster("wide_mask.tif", (rng.random((130, 1000)) > 0.7).astype(np.uint8),
                       **tiled)
    options = TileOptions(size=64, overlap=16, edge="pad")
    whole = tmp_path / "whole"
    tile_rasters([image], [mask], whole, options=options)

    widths, waiting, state = [], [], {"submitted": 0, "written": 0}
    read_window, names, write = raster.read_window, PatchWriter.names, PatchWriter.write

    def spy(src, window=None, *args, **kwargs):
        widths.append(int(window.width))
        return read_window(src, window, *args, **kwargs)

    def named(self, name):
        state["submitted"] += 1
        return names(self, name)

    def slow_write(self, *args):
        waiting.append(state["submitted"] - state["written"])
        time.sleep(0.002)  # the reader runs ahead of the writers
        write(self, *args)
        state["written"] += 1

    monkeypatch.setattr(tiling, "BAND_PIXELS", 64 * 200)  # runs of 200 columns, 3 patches
    monkeypatch.setattr(raster, "read_window", spy)
    monkeypatch.setattr(PatchWriter, "names", named)
    monkeypatch.setattr(PatchWriter, "write", slow_write)
    runs = tmp_path / "runs"
    tile_rasters([image], [mask], runs, options=options)
    assert max(widths) == 160  # 3 patches at a stride of 48
    assert max(waiting) <= 5  # 3 waiting (200 x 64 // 64 ** 2), one each being written
    assert (runs / "index.csv").read_text() == (whole / "index.csv").read_text()
    files = sorted(p.relative_to(whole) for p in whole.rglob("*.tif"))
    assert len(files) == 2 * 3 * 21
    for name in files:
        assert (runs / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.mark.parametrize("resampling", ["bilinear", "nearest"])
def test_runs_of_a_row_keep_the_patches_of_resampled_extra_bands(monkeypatch, make_raster,
                                                                  tmp_path, resampling):
    """--extra-bands on another grid are warped, and the warper's pixels depend on the
    window it is asked for (one aligned on the VRT's blocks is warped apart): read in runs,
    an nDSM at 0.7 m under a 0.5 m image differed from the whole-row read's in most pixels
    of every patch (9000 px at --size 2048 --overlap 512: 50 of 50 MP, up to 2.3 m). The row is
    warped whole, as before, and each run takes its columns."""
    import geotile.tiling as tiling

    rng = np.random.default_rng(6)
    tiled = {"tiled": True, "blockxsize": 64, "blockysize": 64}
    image = make_raster("wide.tif", rng.integers(1, 255, (3, 512, 1100), dtype=np.uint8),
                        **tiled)
    ndsm = make_raster("wide_ndsm.tif", (rng.random((370, 800)) * 30).astype(np.float32),
                       transform=from_origin(UTM_ORIGIN[0] - 3.3, UTM_ORIGIN[1] + 2.1, 0.7,
                                             0.7), nodata=-9999.0, **tiled)
    options, extra = TileOptions(size=256, edge="pad"), {
        "extra_bands": [ndsm], "extra_resampling": resampling}
    whole = tmp_path / "whole"
    tile_rasters([image], None, whole, options=options, **extra)
    # runs of 512 columns, 2 patches: on the warped VRT's blocks (512 x 128), unlike a row
    monkeypatch.setattr(tiling, "BAND_PIXELS", 256 * 512)
    runs = tmp_path / "runs"
    tile_rasters([image], None, runs, options=options, **extra)
    files = sorted(p.relative_to(whole) for p in whole.rglob("*.tif"))
    assert len(files) == 2 * 5
    for name in files:
        with rasterio.open(runs / name) as got, rasterio.open(whole / name) as want:
            np.testing.assert_array_equal(got.read(), want.read(), err_msg=str(name))


@pytest.mark.parametrize("nodata", [None, 0])
@pytest.mark.parametrize("described", [False, True])
def test_template_written_patches_equal_gdal_byte_for_byte(make_raster, tmp_path, monkeypatch,
                                                           nodata, described):
    """Patches written from the learnt GeoTIFF template are the bytes GDAL writes, also
    for a raster whose band names, tags and scales the patches carry (written after the
    pixels, they made GDAL write each patch's origin twice: the template was off, tiling
    an .img with band names 3x slower)."""
    import geotile.patch_writer as patch_writer
    from geotile.tiff_template import TiffTemplate

    rng = np.random.default_rng(3)
    image = make_raster("img.tif", rng.integers(1, 255, (3, 300, 290), dtype=np.uint8),
                        nodata=nodata)
    mask = make_raster("img_mask.tif", (rng.random((300, 290)) > 0.5).astype(np.uint8))
    if described:
        with rasterio.open(image, "r+") as dst:
            dst.descriptions = ("red", "green", "blue")
            dst.update_tags(SENSOR="aerial")
            dst.scales = (0.5, 0.5, 0.5)
        with rasterio.open(mask, "r+") as dst:
            dst.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255)})
    made = []

    class Recorded(TiffTemplate):
        def __init__(self):
            super().__init__()
            made.append(self)

    class GdalOnly(TiffTemplate):
        def __init__(self):
            super().__init__()
            self.state = "off"

    options = TileOptions(size=64, overlap=16, edge="pad")
    monkeypatch.setattr(patch_writer, "TiffTemplate", Recorded)
    tile_rasters([image], [mask], tmp_path / "fast", options=options)
    assert [t.state for t in made] == ["ready", "ready"]  # images and masks
    monkeypatch.setattr(patch_writer, "TiffTemplate", GdalOnly)
    tile_rasters([image], [mask], tmp_path / "gdal", options=options)
    files = sorted(p.relative_to(tmp_path / "gdal") for p in (tmp_path / "gdal").rglob("*.tif"))
    assert len(files) == 2 * 36  # 6 x 6 patches at a 48 px stride
    for name in files:
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "gdal" / name).read_bytes()


def test_template_refuses_what_it_cannot_confirm(tmp_path):
    from geotile.tiff_template import TiffTemplate

    template = TiffTemplate()
    calls = []

    def gdal_write(path, payload):
        def write():
            calls.append(path.name)
            path.write_bytes(payload)
        return write

    array = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    # a "GDAL" whose files are not pixels + tiepoint at fixed places (here: compressed-like)
    for i in range(12):
        path = tmp_path / f"{i}.tif"
        template.write(path, array + i, (float(i), 0.0), gdal_write(path, b"II" + bytes([i]) * 9))
    assert template.state == "off" and len(calls) == 12


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_overwrite_replaces_only_what_geotile_wrote(make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    out = tmp_path / "out"
    tile_rasters([image], None, out, options=TileOptions(size=25))
    assert len(read_index(out)) == 16
    (out / "notes.txt").write_text("mine")  # the user's own file in geotile's folder
    (out / "images" / "extra.txt").write_text("mine too")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        tile_rasters([image], None, out, options=TileOptions(size=50))
    tile_rasters([image], None, out, options=TileOptions(size=50), overwrite=True)
    assert len(read_index(out)) == 4
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "images" / "extra.txt").read_text() == "mine too"
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "extra.txt", "img_0_0.tif", "img_0_1.tif", "img_1_0.tif", "img_1_1.tif"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]



def test_a_linked_folder_in_the_output_is_never_written_through(make_raster, tmp_path):
    """out/images a symbolic link to the user's folder ud/: tile moved its patches into ud,
    replacing the user's ud/img_0_0.tif (no --overwrite, exit 0), as os.walk does not
    follow the link and out/ looked empty. A link to a folder is refused up front like any
    file geotile did not write; in a folder of an earlier output (--overwrite) too, and
    nothing under the link changes."""
    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    mine = tmp_path / "ud"
    mine.mkdir()
    (mine / "img_0_0.tif").write_bytes(b"the user's")
    out = tmp_path / "out"
    out.mkdir()
    (out / "images").symlink_to(mine, target_is_directory=True)
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match=r"did not write \(images\)"):
            tile_rasters([image], None, out, options=TileOptions(size=50), overwrite=overwrite)
    assert sorted(p.name for p in mine.iterdir()) == ["img_0_0.tif"]
    assert (mine / "img_0_0.tif").read_bytes() == b"the user's"
    assert sorted(p.name for p in out.iterdir()) == ["images"]
    # an earlier output of geotile, its images/ then made a link: nothing goes through it
    (out / "images").unlink()
    tile_rasters([image], None, out, options=TileOptions(size=50))
    for patch in (out / "images").iterdir():
        patch.rename(mine / patch.name)
    (out / "images").rmdir()
    (out / "images").symlink_to(mine, target_is_directory=True)
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    with pytest.raises(OutputExistsError, match="images"):
        tile_rasters([image], None, out, options=TileOptions(size=50), overwrite=True)
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before



def test_an_image_name_too_long_for_its_patches_is_one_line_naming_it(make_raster, tmp_path):
    """An image named with 251 bytes (legal): its patches <stem>_0_0.tif (259 bytes) failed
    'out/.geotile-tile-parts.tmp/zzz.../images/zzz..._0_0.tif: File name too long ...
    Choose a shorter output name', naming a temporary path and a fix that cannot help.
    Before any work the line names the image, the patch name's length and the fix."""
    stem = "z" * 251
    image = make_raster(f"{stem}.tif", np.ones((1, 100, 100), np.uint8))
    with pytest.raises(InputError) as caught:
        tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=50))
    text = str(caught.value)
    assert text.startswith(f"{image}: ") and "\n" not in text, text
    assert f"{stem}_0_0.tif" not in text and "259 bytes" in text and "rename" in text, text
    assert ".tmp" not in text
    assert not (tmp_path / "out").exists()


_STATISTICS_AUX = """<PAMDataset>
  <PAMRasterBand band="1">
    <Metadata>
      <MDI key="STATISTICS_MEAN">1</MDI>
      <MDI key="STATISTICS_MAXIMUM">1</MDI>
    </Metadata>
  </PAMRasterBand>
</PAMDataset>
"""


def test_overwrite_takes_the_gdal_sidecars_of_the_patches_it_replaces(make_raster, tmp_path):
    """Statistics that QGIS or gdalinfo -stats saved beside a patch (.aux.xml), or overviews
    (.ovr), describe its old pixels: GDAL would merge them into the new patch of that name."""
    out = tmp_path / "out"
    tile_rasters([make_raster("img.tif", np.ones((1, 100, 100), np.uint8))], None, out,
                 options=TileOptions(size=50))
    for name in ("img_0_0.tif.aux.xml", "img_1_1.tif.aux.xml"):
        (out / "images" / name).write_text(_STATISTICS_AUX)
    (out / "images" / "img_1_1.tif.ovr").write_bytes(b"old overviews")
    (tmp_path / "again").mkdir()
    again = make_raster("again/img.tif", np.full((1, 60, 60), 7, np.uint8))
    tile_rasters([again], None, out, options=TileOptions(size=50, edge="drop"), overwrite=True)
    assert _tree(out / "images") == ["img_0_0.tif"]
    with rasterio.open(out / "images" / "img_0_0.tif") as patch:
        assert "STATISTICS_MEAN" not in patch.tags(1)
        assert patch.read().max() == 7


def test_overwrite_of_an_output_without_marker(make_raster, tmp_path):
    """A folder holding only an index.csv and the patches it lists is geotile's own output."""
    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    out = tmp_path / "out"
    tile_rasters([image], None, out, options=TileOptions(size=50))
    (out / ".geotile-tile.json").unlink()
    tile_rasters([image], None, out, options=TileOptions(size=100), overwrite=True)
    assert _tree(out) == [".geotile-tile.json", "images", "images/img_0_0.tif", "index.csv"]
    (out / ".geotile-tile.json").unlink()
    (out / "images" / "stranger.tif").write_text("x")
    with pytest.raises(OutputExistsError, match=r"did not write.*stranger\.tif"):
        tile_rasters([image], None, out, options=TileOptions(size=100), overwrite=True)
    assert (out / "images" / "stranger.tif").read_text() == "x"


@pytest.mark.parametrize("header", ["image,mask,split", "image,mask,source,split",
                                    "image,mask,source,row,col,x_off,y_off,width,height,split"])
def test_a_users_own_dataset_with_an_index_csv_is_never_taken_for_geotiles(make_raster, tmp_path,
                                                                         header):
    """A dataset folder of the user's own (images/, masks/ and an index.csv naming them, as
    other tools write it) is not geotile's output: refused, --overwrite or not, and kept."""
    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    out = tmp_path / "dataset"
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    (out / "images" / "scene1.tif").write_text("the user's image")
    (out / "masks" / "scene1.tif").write_text("the user's mask")
    values = {"image": "images/scene1.tif", "mask": "masks/scene1.tif", "split": "train",
              "source": "scene1.tif", "row": "0", "col": "0", "x_off": "0", "y_off": "0",
              "width": "100", "height": "100"}
    columns = header.split(",")
    (out / "index.csv").write_text(header + "\n" + ",".join(values[c] for c in columns) + "\n")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match=r"did not write"):
            tile_rasters([image], None, out, options=TileOptions(size=50), overwrite=overwrite)
    assert (out / "images" / "scene1.tif").read_text() == "the user's image"
    assert (out / "masks" / "scene1.tif").read_text() == "the user's mask"
    assert (out / "index.csv").read_text().startswith(header)


def test_marker_cannot_claim_files_outside_the_folder(make_raster, tmp_path):
    import json

    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    out = tmp_path / "out"
    tile_rasters([image], None, out, options=TileOptions(size=100))
    marker = json.loads((out / ".geotile-tile.json").read_text())
    marker["files"].append("../img.tif")
    (out / ".geotile-tile.json").write_text(json.dumps(marker))
    tile_rasters([image], None, out, options=TileOptions(size=100), overwrite=True)
    assert image.exists()


@pytest.mark.parametrize("second", [False, True])
def test_interrupt_leaves_no_hidden_folder(make_raster, tmp_path, monkeypatch, second):
    """Ctrl-C while writing (and a second Ctrl-C while cleaning up) leaves nothing behind."""
    import os
    import shutil
    import signal

    import geotile.output_folder as output_folder
    import geotile.patch_writer as patch_writer
    from geotile.errors import Interrupted

    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    calls = []

    def interrupted_write(self, data, image_rel, mask_rel):
        calls.append(image_rel)
        if len(calls) == 3:
            raise KeyboardInterrupt

    real_rmtree = shutil.rmtree

    def rmtree_hit_by_second_ctrl_c(path, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(patch_writer.PatchWriter, "write", interrupted_write)
    if second:
        monkeypatch.setattr(output_folder, "_rmtree", rmtree_hit_by_second_ctrl_c)
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        calls.clear()
        with pytest.raises(Interrupted, match="interrupted"):
            tile_rasters([image], None, out, options=TileOptions(size=10))
        if out.name == "empty":
            assert list(out.iterdir()) == []
        else:
            assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "img.tif"]


@pytest.mark.parametrize("kind", ["north-up", "south-up", "rotated", "sheared", "no georeference"])
def test_index_bounds_are_the_envelope_of_the_patch(tmp_path, kind):
    """minx < maxx, miny < maxy and the four corners of each patch inside the bounds."""
    import warnings

    from affine import Affine

    from .conftest import UTM_ORIGIN, write_raster

    transforms = {
        "north-up": Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        "south-up": Affine(0.5, 0, UTM_ORIGIN[0], 0, 0.5, UTM_ORIGIN[1]),
        "rotated": Affine.translation(*UTM_ORIGIN) * Affine.rotation(30) * Affine.scale(0.5, -0.5),
        "sheared": Affine(0.5, 0.1, UTM_ORIGIN[0], 0.05, -0.5, UTM_ORIGIN[1]),
        "no georeference": Affine.identity(),
    }
    transform = transforms[kind]
    crs = None if kind == "no georeference" else "EPSG:32616"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        image = write_raster(tmp_path / "img.tif", np.ones((1, 60, 40), np.uint8), crs=crs,
                             transform=transform)
        tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=20))
    rows = read_index(tmp_path / "out")
    assert len(rows) == 6
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        corners = [transform * (x + dx, y + dy) for dx in (0, 20) for dy in (0, 20)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        got = tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy"))
        assert got == pytest.approx((min(xs), min(ys), max(xs), max(ys)))
        assert got[0] < got[2] and got[1] < got[3]


def _image_and_mask(make_raster, folder, stem, value):
    folder.mkdir(exist_ok=True)
    image = make_raster(f"{stem}.tif", np.full((1, 40, 40), value, np.uint8))
    mask = make_raster(f"{folder.name}/{stem}.tif", np.full((40, 40), value % 2, np.uint8))
    return image, mask


@pytest.mark.parametrize("how", ["folder", "glob", "files in another order"])
def test_masks_pair_with_images_by_stem(make_raster, tmp_path, how):
    folder = tmp_path / "masks"
    a, mask_a = _image_and_mask(make_raster, folder, "a", 1)
    b, mask_b = _image_and_mask(make_raster, folder, "b", 2)
    make_raster("masks/other.tif", np.zeros((10, 10), np.uint8))  # a mask of no image here
    masks = {"folder": folder, "glob": str(folder / "*.tif"),
             "files in another order": [mask_b, mask_a]}[how]
    tile_rasters([a, b], masks, tmp_path / "out", options=TileOptions(size=40))
    for row in read_index(tmp_path / "out"):
        with rasterio.open(tmp_path / "out" / row["mask"]) as m:
            assert m.read(1)[0, 0] == (1 if row["source"] == "a.tif" else 0)


def test_masks_folder_errors_are_one_line(make_raster, tmp_path):
    folder = tmp_path / "masks"
    a, _ = _image_and_mask(make_raster, folder, "a", 1)
    b = make_raster("b.tif", np.ones((1, 40, 40), np.uint8))
    with pytest.raises(InputError, match=r"b\.tif: no mask named b\.\* .*in .*masks"):
        tile_rasters([a, b], folder, tmp_path / "out")
    with pytest.raises(InputError, match=r"matches no file"):
        tile_rasters([a], str(tmp_path / "nothing" / "*.tif"), tmp_path / "out")
    make_raster("masks/a.png", np.ones((40, 40), np.uint8), driver="PNG")
    with pytest.raises(InputError, match=r"a\.tif: several masks match.*a\.png.*a\.tif"):
        tile_rasters([a], folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_masks_folder_holding_the_images_does_not_pair_an_image_with_itself(make_raster,
                                                                              tmp_path):
    a = make_raster("a.tif", np.ones((1, 40, 40), np.uint8))
    make_raster("a_mask.tif", np.ones((40, 40), np.uint8))
    tile_rasters([a], tmp_path, tmp_path / "out", options=TileOptions(size=40))
    assert read_index(tmp_path / "out")[0]["mask"] == "masks/a_0_0.tif"


def test_a_mask_on_another_grid_is_refused_before_any_image_is_cut(make_raster, tmp_path,
                                                                    monkeypatch):
    from geotile import tiling

    images = [make_raster(f"img{i}.tif", np.ones((1, 40, 40), np.uint8)) for i in range(3)]
    masks = [make_raster(f"img{i}_mask.tif", np.zeros((40, 40), np.uint8)) for i in range(2)]
    shifted = rasterio.transform.from_origin(740000.25, 3735000, 0.5, 0.5)  # half a pixel
    masks.append(make_raster("img2_mask.tif", np.zeros((40, 40), np.uint8), transform=shifted))
    cut = []
    monkeypatch.setattr(tiling, "_tile_one", lambda image, *a: cut.append(image))
    with pytest.raises(InputError, match=r"img2_mask.tif: the mask's grid differs from "):
        tile_rasters(images, masks, tmp_path / "out", options=TileOptions(size=20))
    assert cut == [] and not (tmp_path / "out").exists()


def test_mask_ignore_value_is_nodata_not_positive(make_raster, tmp_path):
    # make-masks writes 255 (declared nodata) where the image is nodata or the label unknown
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), np.uint8)
    labels[:, :16] = 255  # ignored: left quarter of the top-left and bottom-left patches
    labels[40, 40] = 1  # the bottom-right patch has one building pixel
    mask = make_raster("mask.tif", labels, nodata=255)
    tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32))
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    assert float(rows["0", "0"]["nodata_fraction"]) == 0.5
    assert float(rows["0", "0"]["positive_fraction"]) == 0
    assert float(rows["1", "1"]["positive_fraction"]) == pytest.approx(1 / 32**2, abs=1e-6)
    summary = tile_rasters([image], [mask], tmp_path / "b",
                           options=TileOptions(size=32, skip_empty=True))
    assert summary.written == 1  # an ignored-only patch is empty, not a building
    summary = tile_rasters([image], [mask], tmp_path / "c",
                           options=TileOptions(size=32, max_nodata=0.25))
    assert summary.written == 2 and summary.skipped_nodata == 2


def _filtered(image, mask, folder, max_nodata):
    """(written, skipped_empty) of a --skip-empty tiling of ``image`` and ``mask`` in 32 px
    patches (under ``folder``/b), and (written, skipped_nodata) of a --max-nodata one (/c)."""
    empty = tile_rasters([image], [mask], folder / "b",
                         options=TileOptions(size=32, skip_empty=True))
    nodata = tile_rasters([image], [mask], folder / "c",
                          options=TileOptions(size=32, max_nodata=max_nodata))
    return (empty.written, empty.skipped_empty), (nodata.written, nodata.skipped_nodata)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_an_undeclared_255_of_a_class_mask_is_nodata_not_positive(make_raster, tmp_path,
                                                                   dtype):
    """Class ids 0..3 with 255 unlabelled, not declared nodata (gdal_rasterize -init 255;
    VOC's void): patches all 255 had positive_fraction 1 and --skip-empty kept them, while
    make-masks and evaluate read 255 as the ignore value. It is nodata here too."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), dtype)
    labels[:32, :32] = np.arange(32)[None, :] % 4  # classes 1..3 in the top-left patch
    labels[32:] = 255  # the bottom patches unlabelled
    labels[:32, 48:] = 255  # half the top-right patch
    mask = make_raster("img_mask.tif", labels)
    tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32))
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    assert float(rows["1", "0"]["positive_fraction"]) == 0
    assert float(rows["1", "0"]["nodata_fraction"]) == 1
    assert float(rows["0", "1"]["positive_fraction"]) == 0
    assert float(rows["0", "1"]["nodata_fraction"]) == 0.5
    assert float(rows["0", "0"]["positive_fraction"]) == 0.75
    assert _filtered(image, mask, tmp_path, 0.25) == ((1, 3), (1, 3))


@pytest.mark.parametrize("dtype", [np.int16, np.int8])
def test_an_undeclared_negative_id_of_a_class_mask_is_nodata_not_positive(make_raster, tmp_path,
                                                                          dtype):
    """Sen1Floods11's LabelHand (int16: -1 no data, 0 not water, 1 water) without -1
    declared: a patch all -1 had positive_fraction 1 and nodata_fraction 0, and --skip-empty
    kept it, while make-masks and evaluate refuse -1 as no class id. A negative id is no
    class: nodata in index.csv and the filters; the patches keep it."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), dtype)
    labels[:32, :32] = -1  # top-left patch: no data only
    labels[:32, 32:48] = 1  # top-right: half water, half not water
    labels[32:, :] = -1
    labels[32:, 48:] = 1  # bottom-right: half no data, half water
    mask = make_raster("img_mask.tif", labels)
    tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32))
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    fractions = {key: (float(r["positive_fraction"]), float(r["nodata_fraction"]))
                 for key, r in rows.items()}
    assert fractions == {("0", "0"): (0, 1), ("0", "1"): (0.5, 0), ("1", "0"): (0, 1),
                         ("1", "1"): (0.5, 0.5)}
    with rasterio.open(tmp_path / "a" / "masks" / "img_0_0.tif") as patch:
        assert (patch.read(1) == -1).all()  # kept as it is
    assert _filtered(image, mask, tmp_path, 0.5) == ((2, 2), (2, 2))


def test_a_class_id_a_masks_names_call_no_data_is_nodata_not_positive(make_raster, tmp_path):
    """Chesapeake land cover (uint8 1..6) with 15 named 'No Data' in its categories, not
    declared: patches all 15 had positive_fraction 1 and --skip-empty kept them, while
    make-masks writes such an id (CORINE's 48 'NODATA') as 255 and evaluate leaves it out.
    An id past 0 that the mask's names call no data is nodata here too."""
    from geotile.categories import write_categories

    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.full((64, 64), 15, np.uint8)
    labels[:, 32:] = np.arange(32)[None, :] % 6 + 1  # the right patches: classes 1..6
    labels[:16, 32:] = 15  # and a quarter of the top-right one no data
    mask = make_raster("img_mask.tif", labels)
    write_categories(mask, ["background", "water", "tree_canopy", "low_vegetation", "barren",
                            "impervious_surfaces", "impervious_roads", *[""] * 8, "No Data"])
    tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32))
    fractions = {(r["row"], r["col"]): (float(r["positive_fraction"]),
                                        float(r["nodata_fraction"]))
                 for r in read_index(tmp_path / "a")}
    assert fractions == {("0", "0"): (0, 1), ("1", "0"): (0, 1), ("0", "1"): (0.5, 0.5),
                         ("1", "1"): (1, 0)}
    assert _filtered(image, mask, tmp_path, 0.5) == ((2, 2), (2, 2))


@pytest.mark.parametrize("dtype,nodata", [(np.uint8, 15), (np.int16, -1), (np.uint8, 0)])
def test_255_of_a_class_mask_declaring_another_nodata_is_nodata_too(make_raster, tmp_path,
                                                                    dtype, nodata):
    """Class ids 1..3 with a block of 255 (unlabelled) and another nodata declared (15, -1,
    or 0 of several ids): tile counted the 255 block as positive (positive_fraction 1 of an
    all-255 patch, kept by --skip-empty and --max-nodata) while make-masks and evaluate
    leave 255 out. Both the declared nodata and 255 are nodata here."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), dtype)
    labels[:32, :32] = np.arange(32)[None, :] % 3 + 1  # classes 1..3 in the top-left patch
    labels[:32, 32:] = 2
    labels[32:] = 255  # the bottom patches unlabelled
    labels[:32, 48:] = nodata  # half the top-right patch: the declared nodata
    labels[:8, 32:48] = 255  # and a quarter of the rest of it: 255
    mask = make_raster("img_mask.tif", labels, nodata=nodata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeotileWarning)  # nodata 0's warning
        tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32))
        rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
        assert float(rows["1", "0"]["positive_fraction"]) == 0
        assert float(rows["1", "0"]["nodata_fraction"]) == 1
        assert float(rows["0", "1"]["positive_fraction"]) == 0.375
        assert float(rows["0", "1"]["nodata_fraction"]) == 0.625
        assert float(rows["0", "0"]["positive_fraction"]) == 1
        assert _filtered(image, mask, tmp_path, 0.5) == ((2, 2), (1, 3))


def test_a_0_255_mask_declaring_nodata_0_reads_0_as_background(make_raster, tmp_path):
    """gdal_rasterize -burn 255 -a_nodata 0 (QGIS' Rasterize) declares the background 0 as
    nodata: tile reads it as background, as make-masks does, so --max-nodata keeps the
    background-only patches (the negatives) and their mask patches declare no nodata."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), np.uint8)
    labels[:16, :16] = 255  # a building in the top-left patch
    mask = make_raster("img_mask.tif", labels, nodata=0)
    with pytest.warns(GeotileWarning, match="img_mask.tif: a 0/255 mask declaring nodata 0"):
        summary = tile_rasters([image], [mask], tmp_path / "a",
                               options=TileOptions(size=32, max_nodata=0.5))
    assert summary.written == 4 and summary.skipped_nodata == 0
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    assert {float(r["nodata_fraction"]) for r in rows.values()} == {0.0}
    assert float(rows["0", "0"]["positive_fraction"]) == 0.25
    assert float(rows["1", "1"]["positive_fraction"]) == 0
    with rasterio.open(tmp_path / "a" / "masks" / "img_1_1.tif") as patch:
        assert patch.nodata is None and (patch.read(1) == 0).all()
        assert (patch.dataset_mask() == 255).all()
    # padded: the padding alone is nodata, marked by a mask band (0 stays background)
    with pytest.warns(GeotileWarning, match="declaring nodata 0"):
        tile_rasters([image], [mask], tmp_path / "b", options=TileOptions(size=48, edge="pad"))
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "b")}
    assert float(rows["1", "1"]["nodata_fraction"]) == pytest.approx(1 - 16**2 / 48**2)
    assert float(rows["0", "0"]["nodata_fraction"]) == 0
    with rasterio.open(tmp_path / "b" / "masks" / "img_1_1.tif") as patch:
        assert patch.nodata is None and (patch.read(1) == 0).all()
        assert (patch.dataset_mask()[:16, :16] == 255).all()
        assert (patch.dataset_mask()[16:, :] == 0).all()


def test_a_0_1_mask_declaring_nodata_0_reads_0_as_background(make_raster, tmp_path):
    """gdal_rasterize -burn 1 -a_nodata 0: tile counted a 0/1 mask's background as nodata
    (--max-nodata 0.5 dropped 3 of the 4 patches, the negatives). 0 is its background, as
    make-masks and evaluate read it: every patch kept, its mask patch declaring no
    nodata, one warning for the run. A mask of several ids declaring nodata 0 keeps 0 as
    no data, with one warning giving the share it leaves out."""
    labels = np.zeros((64, 64), np.uint8)
    labels[:16, :16] = 1
    images, masks = [], []
    for name in ("a", "b"):
        images.append(make_raster(f"{name}.tif", np.full((1, 64, 64), 7, np.uint8)))
        masks.append(make_raster(f"{name}_mask.tif", labels, nodata=0))
    with pytest.warns(GeotileWarning) as caught:
        summary = tile_rasters(images, masks, tmp_path / "a",
                               options=TileOptions(size=32, max_nodata=0.5))
    said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
    assert len(said) == 1 and "a_mask.tif and 1 other rasters: a 0/1 mask" in said[0]
    assert summary.written == 8 and summary.skipped_nodata == 0
    rows = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "a")}
    assert {float(r["nodata_fraction"]) for r in rows.values()} == {0.0}
    assert float(rows["a_0_0.tif"]["positive_fraction"]) == 0.25
    with rasterio.open(tmp_path / "a" / "masks" / "b_1_1.tif") as patch:
        # 0 the background; 255, the ignore value, declared by every mask patch
        assert patch.nodata == 255 and (patch.read(1) == 0).all()
    classes = labels.copy()
    classes[32:, :] = 2  # 0 on the top-right quarter and in the top-left one: 1792 px (44%)
    mask = make_raster("c_mask.tif", classes, nodata=0)
    with pytest.warns(GeotileWarning) as caught:
        summary = tile_rasters([images[0]], [mask], tmp_path / "c",
                               options=TileOptions(size=32, max_nodata=0.8))
    said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
    assert len(said) == 1 and "c_mask.tif: class ids (1, 2, ...)" in said[0]
    assert "44% of the pixels left out" in said[0] and "gdal_edit.py -unsetnodata" in said[0]
    assert summary.written == 3 and summary.skipped_nodata == 1  # the top-right quarter
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "c")}
    assert float(rows["0", "0"]["nodata_fraction"]) == 0.75


def test_a_nodata_0_read_as_no_data_stays_no_data_in_its_patches(make_raster, tmp_path):
    """Land cover codes 10..80 declaring nodata 0 (a no-data strip): tile read its 0 as no
    data, but wrote patches holding only 0 and 10 with nodata 0, which every command then
    read as a 0/10 mask whose 0 is background (evaluate scored 2000 no-data px as
    background). Its patches say GEOTILE_ZERO=nodata, read first; and one mask of the run
    holding several ids makes the 0 of a 0/10 mask of the same run no data too."""
    from geotile.evaluate import evaluate_rasters
    from geotile.raster_kinds import zero_nodata

    codes = np.full((64, 64), 10, np.uint8)
    codes[32:, 32:] = 20
    codes[:32, 32:] = 80
    codes[:, :8] = 0  # no data
    images = [make_raster(f"{n}.tif", np.full((1, 64, 64), 7, np.uint8)) for n in "ab"]
    single = np.where(codes == 0, 0, 10).astype(np.uint8)  # b: 0 and 10 only
    masks = [make_raster("a_mask.tif", codes, nodata=0),
             make_raster("b_mask.tif", single, nodata=0)]
    with pytest.warns(GeotileWarning, match=r"a_mask.tif and 1 other rasters: class ids "
                      r"\(10, 20, ...\) and nodata 0: its 0 is read as no data"):
        tile_rasters(images, masks, tmp_path / "t", options=TileOptions(size=32))
    rows = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "t")}
    for name in ("a_0_0.tif", "b_0_0.tif", "b_1_0.tif"):
        assert float(rows[name]["nodata_fraction"]) == 0.25
        assert float(rows[name]["positive_fraction"]) == 0.75
    prediction = make_raster("pred.tif", np.full((32, 32), 10, np.uint8))
    for name in ("a_0_0.tif", "b_0_0.tif"):
        patch = tmp_path / "t" / "masks" / name
        with rasterio.open(patch) as src:
            assert src.nodata == 0 and src.tags()["GEOTILE_ZERO"] == "nodata"
            assert set(np.unique(src.read(1)).tolist()) == {0, 10}
            meaning = zero_nodata(src)
            assert not meaning.background and meaning.named
        result = evaluate_rasters(prediction, patch)
        assert result.pixels == 32 * 24  # the no-data strip left out
        assert result.accuracy == 1
    with rasterio.open(tmp_path / "t" / "masks" / "a_1_1.tif") as src:
        assert src.tags()["GEOTILE_ZERO"] == "nodata"  # no 0 in it: still said
    # alone, a 0/10 mask's 0 is no data too (a land-cover tile of one class, WorldCover's
    # 80 over water); a 0/1 mask's is background (gdal_rasterize -burn 1 -a_nodata 0)
    with pytest.warns(GeotileWarning, match=r"b_mask.tif: class id 10 and nodata 0"):
        tile_rasters([images[1]], [masks[1]], tmp_path / "b", options=TileOptions(size=32))
    rows = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "b")}
    assert float(rows["b_0_0.tif"]["nodata_fraction"]) == 0.25
    binary = make_raster("c_mask.tif", (single > 0).astype(np.uint8), nodata=0)
    with pytest.warns(GeotileWarning, match="a 0/1 mask declaring nodata 0"):
        tile_rasters([images[1]], [binary], tmp_path / "c", options=TileOptions(size=32))
    rows = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "c")}
    assert float(rows["b_0_0.tif"]["nodata_fraction"]) == 0
    with rasterio.open(tmp_path / "c" / "masks" / "b_0_0.tif") as src:
        assert src.nodata == 255 and "GEOTILE_ZERO" not in src.tags()  # 255: ignore


def test_a_paletted_0_255_mask_pads_as_a_0_255_mask(make_raster, tmp_path):
    """A 0/255 mask with a colour table (0 black, 255 white) padded: its patches declared
    nodata 255, so every building pixel in them was no data too. Its 255 is the building,
    as without the table: the padding alone is marked, by a mask band."""
    image = make_raster("img.tif", np.full((1, 40, 40), 7, np.uint8))
    labels = np.zeros((40, 40), np.uint8)
    labels[24:40, 24:40] = 255
    mask = make_raster("img_mask.tif", labels)
    with rasterio.open(mask, "r+") as dst:
        dst.write_colormap(1, {0: (0, 0, 0, 255), 255: (255, 255, 255, 255)})
    tile_rasters([image], [mask], tmp_path / "a", options=TileOptions(size=32, edge="pad"))
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    assert float(rows["1", "1"]["positive_fraction"]) == pytest.approx(8**2 / 32**2)
    assert float(rows["1", "1"]["nodata_fraction"]) == pytest.approx(1 - 8**2 / 32**2)
    with rasterio.open(tmp_path / "a" / "masks" / "img_1_1.tif") as patch:
        assert patch.nodata is None
        assert (patch.read(1)[:8, :8] == 255).all()
        assert (patch.dataset_mask()[:8, :8] == 255).all()
        assert (patch.dataset_mask()[8:, :] == 0).all()


@pytest.mark.parametrize("as_type", [str, lambda p: p])
def test_a_bare_path_is_one_image_not_its_characters(make_raster, tmp_path, as_type):
    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    mask = make_raster("img_mask.tif", np.ones((40, 40), np.uint8))
    summary = tile_rasters(as_type(image), as_type(mask), tmp_path / "out",
                           options=TileOptions(size=20))
    assert summary.written == 4
    assert {r["source"] for r in read_index(tmp_path / "out")} == {"img.tif"}
    assert len(list((tmp_path / "out" / "masks").iterdir())) == 4


def test_failed_run_removes_the_folders_it_made(make_raster, tmp_path, monkeypatch):
    import geotile.patch_writer as patch_writer

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))

    def broken(self, *args):
        raise rasterio.errors.RasterioError("simulated GDAL failure")

    monkeypatch.setattr(patch_writer.PatchWriter, "_write", broken)
    with pytest.raises(InputError, match=r"img_0_0\.tif.*simulated GDAL failure"):
        tile_rasters([image], None, tmp_path / "a" / "b" / "out", options=TileOptions(size=20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]


def test_overwrite_never_removes_an_input(make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    tile_rasters([image], None, out, options=TileOptions(size=20))
    patch = out / "images" / "img_0_0.tif"
    with pytest.raises(InputError, match=r"img_0_0\.tif: an input is among the files"):
        tile_rasters([patch], None, out, options=TileOptions(size=10), overwrite=True)
    assert patch.exists() and len(read_index(out)) == 4


def test_options_take_text_and_lists_as_the_cli_does():
    assert TileOptions(split="0.8,0.2").split == (0.8, 0.2)
    assert TileOptions(split=[0.5, 0.5]).split == (0.5, 0.5)
    assert TileOptions(split=1.0).split == (1.0,)
    assert TileOptions(creation_options="COMPRESS=DEFLATE").creation_options == {
        "compress": "DEFLATE"}
    assert TileOptions(creation_options=["COMPRESS=ZSTD", "ZSTD_LEVEL=3"]).creation_options == {
        "compress": "ZSTD", "zstd_level": "3"}
    with pytest.raises(InputError, match="fractions"):
        TileOptions(split="0.8,abc")
    for split in ("nan", "1,nan", "inf,-inf"):
        with pytest.raises(InputError, match="non-negative fractions"):
            TileOptions(split=split)
    for overlap in (float("nan"), float("inf"), 1.5):
        with pytest.raises(InputError, match="whole pixels"):
            TileOptions(overlap=overlap)


def test_a_folder_that_cannot_be_listed_is_refused(make_raster, tmp_path, monkeypatch):
    import errno

    import geotile.output_folder as output_folder

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.csv").write_text("the user's")

    def unreadable(top, onerror=None, **kwargs):
        onerror(PermissionError(errno.EACCES, "Permission denied", str(top)))
        return iter(())

    monkeypatch.setattr(output_folder.os, "walk", unreadable)
    with pytest.raises(InputError, match="out: the output folder is not writable"):
        tile_rasters([image], None, tmp_path / "out", overwrite=True)
    assert (tmp_path / "out" / "index.csv").read_text() == "the user's"


def test_ctrl_c_while_publishing_waits_and_says_the_output_is_complete(make_raster, tmp_path,
                                                                        monkeypatch):
    import os
    import signal

    import geotile.output_folder as output_folder
    from geotile.errors import Interrupted

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    real_move = output_folder._move

    def move_hit_by_ctrl_c(source, target):
        os.kill(os.getpid(), signal.SIGINT)
        return real_move(source, target)

    monkeypatch.setattr(output_folder, "_move", move_hit_by_ctrl_c)
    with pytest.raises(Interrupted, match="after the output was written completely"):
        tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=20))
    assert len(read_index(tmp_path / "out")) == 4
    assert len(list((tmp_path / "out" / "images").iterdir())) == 4
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == []


def _masked_image(path, mask, nodata=None):
    """uint8 RGB whose invalid pixels are marked by an internal GDAL mask band."""
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, UTM_ORIGIN

    height, width = mask.shape
    pixels = np.random.default_rng(4).integers(1, 255, (3, height, width), dtype=np.uint8)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(
            path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
            crs=UTM_CRS, transform=from_origin(*UTM_ORIGIN, 0.5, 0.5), nodata=nodata) as dst:
        dst.write(pixels)
        dst.write_mask(mask)
    return path


@pytest.mark.parametrize("co", [None, "COMPRESS=DEFLATE"])
def test_patches_carry_the_images_mask_band(tmp_path, co):
    mask = np.full((64, 96), 255, np.uint8)
    mask[:32, :16] = 0  # half of the top-left patch
    mask[40, 70] = 0  # one pixel of the bottom-right one
    image = _masked_image(tmp_path / "img.tif", mask)
    options = TileOptions(size=32, creation_options=[co] if co else {})
    tile_rasters([image], None, tmp_path / "out", options=options)
    rows = read_index(tmp_path / "out")
    assert len(rows) == 6
    with rasterio.open(image) as src:
        pixels = src.read()
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        expected = mask[y : y + 32, x : x + 32]
        with rasterio.open(tmp_path / "out" / row["image"]) as patch:
            np.testing.assert_array_equal(patch.read(), pixels[:, y : y + 32, x : x + 32])
            np.testing.assert_array_equal(patch.dataset_mask(), expected)
            for band in (1, 2, 3):
                np.testing.assert_array_equal(patch.read_masks(band), expected)
            assert patch.nodata is None
        assert float(row["nodata_fraction"]) == pytest.approx((expected == 0).mean(), abs=1e-6)
    assert float(rows[0]["nodata_fraction"]) == 0.5


def test_index_bounds_are_exact_far_from_the_origin(make_raster, tmp_path):
    """Web Mercator east of 90 E: 10 000 000 m and more, 3 cm pixels: the bounds read back
    as the patches' own to a micrometre (10 digits rounded them to 1 cm, a third of a
    pixel)."""
    from rasterio.transform import from_origin

    image = make_raster("far.tif", np.ones((1, 64, 64), np.uint8), crs="EPSG:3857",
                        transform=from_origin(12_958_400.123, 4_852_000.987, 0.03, 0.03))
    tile_rasters([image], None, tmp_path / "out", options=TileOptions(size=32))
    for row in read_index(tmp_path / "out"):
        with rasterio.open(tmp_path / "out" / row["image"]) as patch:
            assert tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy")) == \
                pytest.approx(tuple(patch.bounds), abs=1e-6, rel=0)


def test_mask_a_few_pixels_off_in_degrees_is_refused(make_raster, tmp_path):
    """EPSG:4326 pixels of 2.7e-6 degrees: a mask 3 px east, or of twice the pixel size,
    is another grid (its patches would label other ground)."""
    from rasterio.transform import from_origin

    px = 2.7e-6
    image = make_raster("sn.tif", np.ones((2, 300, 300), np.uint16), crs="EPSG:4326",
                        transform=from_origin(-115.3, 36.2, px, px))
    labels = np.ones((300, 300), np.uint8)
    east = make_raster("east_mask.tif", labels, crs="EPSG:4326",
                       transform=from_origin(-115.3 + 3 * px, 36.2, px, px))
    coarse = make_raster("coarse_mask.tif", labels, crs="EPSG:4326",
                         transform=from_origin(-115.3, 36.2, 2 * px, 2 * px))
    for mask, what in ((east, "origin"), (coarse, "pixel size")):
        with pytest.raises(InputError, match=rf"{mask.name}: the mask's grid differs from "
                                             rf".*sn.tif's: {what}"):
            tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=128))
    assert not (tmp_path / "out").exists()


def test_grid_error_shows_the_origins_apart(make_raster, tmp_path):
    """A refused origin difference is printed with digits that show it, and in pixels; 3e-5
    px of float noise (an origin of 740000.00001 m) is the same grid."""
    from rasterio.transform import from_origin

    from .conftest import UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    image = make_raster("odd.tif", np.ones((3, 100, 100), np.uint8),
                        transform=from_origin(x0, y0, 0.3, 0.3))
    labels = np.ones((100, 100), np.uint8)
    noise = make_raster("noise_mask.tif", labels, transform=from_origin(x0 + 1e-5, y0, 0.3, 0.3))
    tile_rasters([image], [noise], tmp_path / "ok", options=TileOptions(size=50))
    assert len(read_index(tmp_path / "ok")) == 4
    off = make_raster("off_mask.tif", labels, transform=from_origin(x0 + 0.003, y0, 0.3, 0.3))
    with pytest.raises(InputError, match=rf"origin \({x0 + 0.003:.15g}, {y0:.15g}\) against "
                                         rf"\({x0:.15g}, {y0:.15g}\): shifted by 0.01 px across"):
        tile_rasters([image], [off], tmp_path / "x", options=TileOptions(size=50))


def test_four_band_uint8_patches_keep_the_colour_interpretation(make_raster, tmp_path):
    """An RGBIR uint8 image (ISPRS Potsdam: band 4 infrared, not alpha) gives patches whose
    band 4 is no alpha, so their dataset mask is valid where index.csv counts no nodata
    (GDAL's default would make a dark infrared pixel transparent); an RGBA image keeps its
    alpha, and a uint8 band stacked by --extra-bands onto RGB is no alpha either."""
    from rasterio.enums import ColorInterp as C

    rng = np.random.default_rng(3)
    pixels = rng.integers(1, 255, (4, 64, 64), dtype=np.uint8)
    pixels[3, :, :32] = 0  # dark infrared (water)
    rgbir = make_raster("top_RGBIR.tif", pixels, photometric="MINISBLACK")
    with rasterio.open(rgbir, "r+") as dst:
        dst.colorinterp = [C.red, C.green, C.blue, C.undefined]
    opaque = pixels.copy()
    opaque[3] = np.where(pixels[3] > 0, 255, 0)  # a real alpha (an NIR's: the test below)
    rgba = make_raster("rgba.tif", opaque)  # GDAL's default: RGB + alpha
    rgb = make_raster("rgb.tif", pixels[:3])
    height = make_raster("height.tif", pixels[3])
    runs = {"rgbir": ([rgbir], {}, C.undefined), "rgba": ([rgba], {}, C.alpha),
            "extra": ([rgb], {"extra_bands": [height]}, C.undefined)}
    for name, (images, kwargs, band4) in runs.items():
        band = opaque[3] if name == "rgba" else pixels[3]
        out = tmp_path / name
        tile_rasters(images, None, out, options=TileOptions(size=32), **kwargs)
        for row in read_index(out):
            with rasterio.open(out / row["image"]) as patch:
                assert patch.colorinterp == (C.red, C.green, C.blue, band4), name
                valid = patch.dataset_mask() > 0
                x, y = int(row["x_off"]), int(row["y_off"])
                np.testing.assert_array_equal(patch.read(4), band[y:y + 32, x:x + 32])
            expected = 1 - valid.mean() if band4 == C.alpha else 0.0
            assert float(row["nodata_fraction"]) == pytest.approx(expected, abs=1e-6)
            assert valid.all() or band4 == C.alpha, (name, row["image"])


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_a_wider_0_255_mask_keeps_its_buildings(make_raster, tmp_path, dtype):
    """A 0/255 building mask stored as UInt16, Int16 or Float32 had its 255 counted as
    no data: --skip-empty kept 0 patches of 4, positive_fraction 0 everywhere. It is a
    0/255 mask as a uint8 one is: 255 the building, nothing ignored."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.zeros((64, 64), dtype)
    labels[:16, :16] = 255
    mask = make_raster("img_mask.tif", labels)
    summary = tile_rasters([image], [mask], tmp_path / "a",
                           options=TileOptions(size=32, skip_empty=True))
    assert summary.written == 1 and summary.skipped_empty == 3
    rows = {(r["row"], r["col"]): r for r in read_index(tmp_path / "a")}
    assert float(rows["0", "0"]["positive_fraction"]) == 0.25
    assert float(rows["0", "0"]["nodata_fraction"]) == 0


def test_255_of_a_float_class_mask_is_its_ignore_value(make_raster, tmp_path):
    """A Float32 class mask (ids 0..3, 255 unlabelled: QGIS Rasterize's default type) had
    its 255 counted as positive: an all-255 patch positive_fraction 1, nodata 0, kept by
    --skip-empty. 255 is the ignore value, as of a uint8 or uint16 class mask."""
    image = make_raster("img.tif", np.full((1, 64, 64), 7, np.uint8))
    labels = np.tile(np.arange(64) % 4, (64, 1)).astype(np.uint8)
    labels[32:, 32:] = 255  # unlabelled
    fractions = {}
    for dtype in (np.uint8, np.float32):
        name = np.dtype(dtype).name
        (tmp_path / name).mkdir()
        mask = make_raster(f"{name}/img.tif", labels.astype(dtype))
        summary = tile_rasters([image], [mask], tmp_path / f"o_{name}",
                               options=TileOptions(size=32, skip_empty=True))
        assert summary.written == 3 and summary.skipped_empty == 1
        fractions[name] = [(r["positive_fraction"], r["nodata_fraction"])
                           for r in read_index(tmp_path / f"o_{name}")]
    assert fractions["float32"] == fractions["uint8"]
    assert ("0.75", "0.0") in fractions["float32"]


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32])
def test_255_of_a_mask_with_ids_above_255_is_an_id(make_raster, tmp_path, dtype):
    """A uint16 instance mask of 400 buildings (ids 1..400) had building 255 counted as no
    data: its patch dropped by --max-nodata and by --skip-empty. With ids above 255, 255 is
    one of them (as evaluate reads it); a declared nodata above 255 is no id."""
    image = make_raster("img.tif", np.full((1, 80, 80), 7, np.uint8))
    ids = (np.arange(400) + 1).reshape(20, 20).repeat(4, 0).repeat(4, 1).astype(dtype)
    mask = make_raster("img_mask.tif", ids)
    summary = tile_rasters([image], [mask], tmp_path / "a",
                           options=TileOptions(size=8, max_nodata=0.1, skip_empty=True))
    assert summary.written == 100 and summary.skipped_nodata == summary.skipped_empty == 0
    fractions = {(r["positive_fraction"], r["nodata_fraction"]) for r in read_index(tmp_path / "a")}
    assert fractions == {("1.0", "0.0")}
    # padded: the dtype's largest value (NaN for floats, which had 255), never id 255
    tile_rasters([image], [mask], tmp_path / "p", options=TileOptions(size=48, edge="pad"))
    with rasterio.open(tmp_path / "p" / "masks" / "img_1_1.tif") as patch:
        fill = np.nan if dtype == np.float32 else np.iinfo(dtype).max
        np.testing.assert_equal(patch.nodata, fill)
        assert (patch.read(1) == 255).sum() == 16 and patch.dataset_mask()[:32, :32].all()
        assert not patch.dataset_mask()[32:, :].any() and not patch.dataset_mask()[:, 32:].any()
    small = np.where(ids > 255, 65535, ids).astype(np.uint32)  # ids 1..255, nodata 65535
    mask = make_raster("small_mask.tif", small, nodata=65535)
    tile_rasters([image], [mask], tmp_path / "b", options=TileOptions(size=8))
    row = next(r for r in read_index(tmp_path / "b") if (r["row"], r["col"]) == ("6", "7"))
    assert float(row["nodata_fraction"]) == 1.0  # id 255 (ignore) and nodata


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_a_paletted_image_keeps_its_colour_table_in_every_patch(make_raster, tmp_path, fmt):
    """A paletted image (one band of colour-table indices, as old GIS orthophotos, GIF/PNG
    scans and classified maps come) was cut into grey patches of bare indices: its colours
    were lost. Each patch keeps the indices and the table, as gdal_retile.py does."""
    indices = (np.arange(64 * 64).reshape(64, 64) % 7).astype(np.uint8)
    image = make_raster("pal.tif", indices)
    table = {i: (i * 30, 255 - i * 30, i * 10, 255) for i in range(7)}
    with rasterio.open(image, "r+") as dst:
        dst.write_colormap(1, table)
    labels = make_raster("pal_mask.tif", (indices == 3).astype(np.uint8))
    with rasterio.open(labels, "r+") as dst:
        dst.write_colormap(1, {0: (0, 0, 0, 255), 1: (200, 30, 30, 255)})
    tile_rasters([image], [labels], tmp_path / "out", options=TileOptions(size=32, fmt=fmt))
    for row, col in [(0, 0), (1, 1)]:
        with rasterio.open(tmp_path / "out" / "images" / f"pal_{row}_{col}.{fmt}") as patch:
            assert patch.colorinterp[0] == rasterio.enums.ColorInterp.palette
            assert all(patch.colormap(1)[i] == table[i] for i in range(7))
            np.testing.assert_array_equal(
                patch.read(1), indices[row * 32:(row + 1) * 32, col * 32:(col + 1) * 32])
        with rasterio.open(tmp_path / "out" / "masks" / f"pal_{row}_{col}.{fmt}") as patch:
            assert patch.colormap(1)[1] == (200, 30, 30, 255)


def test_a_short_colour_table_and_its_nodata_make_png_patches(make_raster, tmp_path):
    """A class mask whose colour table names only its classes (4 entries: make-masks'
    mask copied to ERDAS .img or a VRT by gdal_translate) and whose ignore pixels are 255:
    tile --format png exited 1 with 'libpng: Wrote palette index exceeding num_palette'
    where the GeoTIFF mask tiled. The PNG patches hold the same ids and colours."""
    ids = np.zeros((64, 64), np.uint8)
    ids[8:30, 8:30], ids[40:60, 5:25], ids[35:60, 35:60] = 1, 2, 3
    ids[:10, :10] = 255
    image = make_raster("tile.tif", np.full((3, 64, 64), 90, np.uint8))
    table = {0: (0, 0, 0, 0), 1: (230, 25, 75, 255), 2: (60, 180, 75, 255),
             3: (255, 225, 25, 255)}
    from .conftest import UTM_CRS, UTM_ORIGIN

    mask = tmp_path / "tile_mask.img"
    with rasterio.open(mask, "w", driver="HFA", width=64, height=64, count=1, dtype="uint8",
                       crs=UTM_CRS, transform=from_origin(*UTM_ORIGIN, 0.5, 0.5),
                       nodata=255) as dst:
        dst.write(ids, 1)
        dst.write_colormap(1, table)
    with rasterio.open(mask) as src:
        assert len(src.colormap(1)) == 4
    tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=32, fmt="png"))
    for row, col in [(0, 0), (1, 1)]:
        with rasterio.open(tmp_path / "out" / "masks" / f"tile_{row}_{col}.png") as patch:
            np.testing.assert_array_equal(
                patch.read(1), ids[row * 32:(row + 1) * 32, col * 32:(col + 1) * 32])
            assert all(patch.colormap(1)[i] == table[i] for i in range(1, 4))

def test_nan_pixels_of_a_float_mask_are_its_patches_nodata(make_raster, tmp_path):
    """A float32 mask with NaN where nothing is labelled and no nodata declared: index.csv
    counted those pixels as no data, but the patch declared nodata 255 and kept NaN there,
    valid pixels to every reader (a NaN loss in training). They are 255, its nodata."""
    image = make_raster("img.tif", np.full((3, 64, 64), 100, np.uint8))
    labels = np.zeros((64, 64), np.float32)
    labels[10:20, 10:20] = 1
    labels[40:, :] = np.nan
    mask = make_raster("img_mask.tif", labels)
    tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=32))
    rows = {r["image"]: r for r in read_index(tmp_path / "out")}
    assert float(rows["images/img_1_0.tif"]["nodata_fraction"]) == pytest.approx(0.75)
    with rasterio.open(tmp_path / "out" / "masks" / "img_1_0.tif") as patch:
        pixels, valid = patch.read(1), patch.read_masks(1)
        assert not np.isnan(pixels).any()
        assert (pixels[8:] == patch.nodata).all() and (valid[8:] == 0).all()
        assert (pixels[:8] == 0).all() and (valid[:8] == 255).all()


@pytest.mark.parametrize("size", [0, -5, 256.5, "256", True])
def test_tile_options_refuse_a_size_that_is_not_a_whole_number_of_pixels(size):
    # 0 and -5 were blamed on --overlap; 256.5 reached a TypeError inside tile_rasters
    with pytest.raises(InputError, match=rf"--size {size!r}: give a whole number >= 1"):
        TileOptions(size=size)


def test_tile_options_refuse_an_unknown_edge_rule():
    with pytest.raises(InputError, match=r"--edge 'wrap': choose shift, pad or drop"):
        TileOptions(edge="wrap")
    assert TileOptions(size=7.0).size == 7  # a whole float is that many pixels


@pytest.mark.parametrize(("dtype", "bands", "co"), [
    ("uint8", 3, ["COMPRESS=JPEG"]),
    ("uint8", 3, ["COMPRESS=JPEG", "JPEG_QUALITY=50", "PHOTOMETRIC=YCBCR"]),
    ("uint8", 3, ["COMPRESS=WEBP"]),
    ("uint8", 3, ["COMPRESS=LERC", "MAX_Z_ERROR=2"]),
    ("float32", 1, ["COMPRESS=DEFLATE", "PREDICTOR=3"]),
    ("float32", 1, ["COMPRESS=DEFLATE", "DISCARD_LSB=4"]),
])
def test_creation_options_never_change_mask_values(make_raster, tmp_path, dtype, bands, co):
    """Lossy or value-changing --co options reach the image patches only: mask patches keep
    every class id and the 255 ignore value, compressed losslessly."""
    rng = np.random.default_rng(3)
    image = make_raster("img.tif", rng.integers(1, 200, (bands, 64, 64)).astype(dtype))
    labels = rng.choice(np.array([0, 1, 2, 255], np.uint8), (64, 64))
    mask = make_raster("img_mask.tif", labels, nodata=255)
    tile_rasters([image], [mask], tmp_path / "out",
                 options=TileOptions(size=32, creation_options=co))
    rows = read_index(tmp_path / "out")
    assert len(rows) == 4
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        with rasterio.open(tmp_path / "out" / row["mask"]) as patch:
            np.testing.assert_array_equal(patch.read(1), labels[y:y + 32, x:x + 32])
            assert patch.nodata == 255
            assert patch.compression is not None
            assert patch.compression.name.lower() in ("deflate", "lerc")


@pytest.mark.parametrize("co", [None, "COMPRESS=DEFLATE"])
def test_patches_keep_scales_offsets_descriptions_units_and_tags(make_raster, tmp_path, co):
    """As gdal_translate -srcwin: a scaled product's patches read as the same reflectance."""
    image = make_raster("s2.tif", np.full((3, 40, 40), 4877, np.uint16), nodata=0)
    with rasterio.open(image, "r+") as dst:
        dst.scales, dst.offsets = (0.0001,) * 3, (-0.1,) * 3
        dst.update_tags(PRODUCT="L2A", BASELINE="04.00", EXIF_Orientation="6")
        for band in (1, 2, 3):
            dst.set_band_description(band, f"B0{band}")
            dst.set_band_unit(band, "reflectance")
            dst.update_tags(band, WAVELENGTH=str(400 + band))
    mask = make_raster("s2_mask.tif", np.ones((40, 40), np.uint8), nodata=255)
    with rasterio.open(mask, "r+") as dst:
        dst.update_tags(SOURCE="survey 2024")
        dst.set_band_description(1, "landcover")
    tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(
        size=16, edge="pad", creation_options=[co] if co else {}))
    rows = read_index(tmp_path / "out")
    assert len(rows) == 9
    for row in rows:
        with rasterio.open(tmp_path / "out" / row["image"]) as patch:
            assert patch.scales == (0.0001,) * 3 and patch.offsets == (-0.1,) * 3
            assert patch.descriptions == ("B01", "B02", "B03")
            assert patch.units == ("reflectance",) * 3
            assert patch.tags()["PRODUCT"] == "L2A" and patch.tags()["BASELINE"] == "04.00"
            assert "EXIF_Orientation" not in patch.tags()  # the photo's, not the patch's
            assert patch.tags(2)["WAVELENGTH"] == "402"
        with rasterio.open(tmp_path / "out" / row["mask"]) as patch:
            assert patch.tags()["SOURCE"] == "survey 2024"
            assert patch.descriptions == ("landcover",)
            assert patch.scales == (1.0,) and patch.nodata == 255


def test_index_fractions_of_one_pixel_in_a_large_patch_are_not_zero(make_raster, tmp_path):
    """1 positive and 3 nodata pixels of 2 250 000 (4.4e-7): kept by --skip-empty, listed
    with the exact fractions, never 0.000000."""
    pixels = np.full((1, 1500, 1500), 9, np.uint8)
    pixels[0, 0, :3] = 0
    labels = np.zeros((1500, 1500), np.uint8)
    labels[700, 700] = 1
    image = make_raster("big.tif", pixels, nodata=0)
    mask = make_raster("big_mask.tif", labels)
    tile_rasters([image], [mask], tmp_path / "out",
                 options=TileOptions(size=1500, skip_empty=True))
    (row,) = read_index(tmp_path / "out")
    assert float(row["positive_fraction"]) == 1 / 1500**2
    assert float(row["nodata_fraction"]) == 3 / 1500**2


def test_split_warns_when_images_overlap_on_the_ground(make_raster, tmp_path):
    """Blocks are planned per image: two collects of the same ground would put it in train
    and in val, so the run says so (adjacent tiles that only touch do not)."""
    from rasterio.transform import from_origin

    pixels = np.ones((1, 64, 64), np.uint8)
    a = make_raster("a.tif", pixels, transform=from_origin(740000, 3735000, 0.5, 0.5))
    east = make_raster("east.tif", pixels, transform=from_origin(740032, 3735000, 0.5, 0.5))
    shifted = make_raster("a2.tif", pixels, transform=from_origin(740010, 3735000, 0.5, 0.5))
    options = TileOptions(size=16, split=(0.5, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        tile_rasters([a, east], None, tmp_path / "touch", options=options)
    with pytest.warns(GeotileWarning, match=r"a.tif and .*a2.tif overlap on the ground.*"
                                            r"within an image"):
        tile_rasters([a, east, shifted], None, tmp_path / "overlap", options=options)
    with warnings.catch_warnings():  # no split: nothing to warn about
        warnings.simplefilter("error", GeotileWarning)
        tile_rasters([a, shifted], None, tmp_path / "nosplit", options=TileOptions(size=16))


def test_split_warns_when_images_in_two_utm_zones_overlap_on_the_ground(make_raster,
                                                                       tmp_path):
    """A delivery at a zone boundary has the same ground in EPSG:32632 and EPSG:32633: the
    images' coordinates are 450 km apart, so --split tiled both without the overlap
    warning (exit 0, the common ground in train and in val). Now their outlines are
    compared on the ground; an image of the other zone 1 km away is not warned about."""
    from pyproj import Transformer
    from rasterio.transform import from_origin

    pixels = np.ones((1, 64, 64), np.uint8)
    a = make_raster("a.tif", pixels, crs="EPSG:32632",
                    transform=from_origin(723700, 5320700, 0.5, 0.5))
    x, y = Transformer.from_crs(32632, 32633, always_xy=True).transform(723716, 5320684)
    same = make_raster("same.tif", pixels, crs="EPSG:32633",
                       transform=from_origin(x - 10, y + 10, 0.5, 0.5))
    far = make_raster("far.tif", pixels, crs="EPSG:32633",
                      transform=from_origin(x + 1000, y + 10, 0.5, 0.5))
    options = TileOptions(size=16, split=(0.5, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        tile_rasters([a, far], None, tmp_path / "apart", options=options)
    with pytest.warns(GeotileWarning, match=r"a.tif and .*same.tif overlap on the ground"):
        tile_rasters([a, far, same], None, tmp_path / "overlap", options=options)


@pytest.mark.parametrize("scale", [(0.5, 0.5), (-0.5, -0.5)], ids=["south-up", "mirrored"])
def test_split_warns_when_south_up_or_mirrored_images_overlap(make_raster, tmp_path, scale):
    """Two south-up (or east-west flipped) collects 10 m apart, sharing 22 of their 32 m:
    rasterio's bounds of such grids run bottom > top (left > right), and no warning came."""
    from affine import Affine

    pixels = np.ones((1, 64, 64), np.uint8)
    x0 = 740000 if scale[0] > 0 else 740032
    a, b = (make_raster(f"{name}.tif", pixels, crs="EPSG:32611",
                        transform=Affine.translation(x0 + shift, 3735000) * Affine.scale(*scale))
            for name, shift in (("a", 0), ("b", 10)))
    with pytest.warns(GeotileWarning, match=r"a.tif and .*b.tif overlap on the ground"):
        tile_rasters([a, b], None, tmp_path / "t", options=TileOptions(size=16, split=(0.5, 0.5)))


@pytest.mark.parametrize(("count", "dtype"), [(4, np.uint8), (5, np.uint8), (2, np.int16)])
def test_alpha_bands_gdal_leaves_out_are_nodata(make_raster, tmp_path, count, dtype):
    """RGB+NIR+alpha and int16+alpha (gdalwarp -dstalpha's; GDAL's mask leaves the alpha
    out) had a collar with nodata_fraction 0.0 and kept by --max-nodata; their alpha 0 is
    nodata as an RGBA's is: counted, marked in the patches and filtered."""
    from rasterio.enums import ColorInterp

    pixels = np.full((count, 64, 64), 80, dtype)
    pixels[-1] = 255
    pixels[-1, :, 56:] = 0  # transparent collar: 8 of the 32 columns of the right patches
    image = make_raster("img.tif", pixels, photometric="RGB" if count == 4 else "MINISBLACK")
    with rasterio.open(image, "r+") as dst:
        dst.colorinterp = [*([ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                              ColorInterp.undefined][:count - 1]), ColorInterp.alpha]
    tile_rasters([image], None, tmp_path / "all", options=TileOptions(size=32))
    rows = read_index(tmp_path / "all")
    for row in rows:
        expected = 0.25 if row["col"] == "1" else 0.0
        assert float(row["nodata_fraction"]) == expected, row
        with rasterio.open(tmp_path / "all" / row["image"]) as patch:
            valid = patch.dataset_mask() > 0
        assert valid[:, :24].all() and valid[:, 24:].any() == (row["col"] == "0"), row
    summary = tile_rasters([image], None, tmp_path / "kept",
                           options=TileOptions(size=32, max_nodata=0.1))
    assert summary.written == 2 and summary.skipped_nodata == 2


@pytest.mark.parametrize("co", [["COMPRESS=JPEG"], ["COMPRESS=WEBP"]])
def test_lossy_image_patches_keep_their_nodata_pixels(make_raster, tmp_path, co):
    """JPEG/WEBP change the nodata value's pixels (0 -> 1..3) and may turn valid ones into
    it: the patch's mask band, not its nodata value, marks exactly the invalid pixels
    index.csv counts (a WEBP patch read 73% nodata where index.csv said 78%)."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 40, (3, 64, 64)).astype(np.uint8)
    pixels[:, :40, :23] = 0
    image = make_raster("img.tif", pixels, nodata=0)
    tile_rasters([image], None, tmp_path / "out",
                 options=TileOptions(size=32, creation_options=co))
    rows = read_index(tmp_path / "out")
    assert len(rows) == 4
    for row in rows:
        x, y = int(row["x_off"]), int(row["y_off"])
        expected = (pixels[:, y:y + 32, x:x + 32] != 0).any(axis=0)
        with rasterio.open(tmp_path / "out" / row["image"]) as patch:
            valid = patch.dataset_mask() > 0
        np.testing.assert_array_equal(valid, expected)
        assert float(row["nodata_fraction"]) == 1 - expected.mean()


def test_a_mask_on_the_image_grid_without_its_crs_names_the_fix(make_raster, tmp_path):
    """A mask with the image's transform and size but no CRS (gdal_rasterize from labels
    without a .prj) was told 'Make it with `geotile make-masks LABELS IMAGE`': it needs only
    the image's CRS, and the refusal says how to assign it."""
    image = make_raster("scene.tif", np.ones((3, 40, 40), np.uint8))
    mask = make_raster("scene_mask.tif", np.ones((40, 40), np.uint8), crs=None)
    with pytest.raises(InputError) as err:
        tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=20))
    text = str(err.value)
    assert "scene_mask.tif: the mask has the size and transform of scene.tif but no CRS" \
        in text
    assert f"gdal_edit.py -a_srs EPSG:32616 {mask}" in text
    assert "make-masks" not in text and "\n" not in text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("overlap", "shown"), [
    (0.999, r"--overlap 0.999 \(256 px\)"), (256, r"--overlap 256 px")])
def test_an_overlap_fraction_too_large_is_named_as_given(overlap, shown):
    """--overlap 0.999 was refused as '--overlap 256 px', a value the user never typed."""
    with pytest.raises(InputError, match=rf"^{shown} must be smaller than the patch size"):
        TileOptions(size=256, overlap=overlap)


#: a drone ortho's CRS as Pix4D/Metashape write it: UTM 16N + EGM96 heights (EPSG:32616+5773)
COMPOUND_UTM = "EPSG:32616+5773"


@pytest.mark.parametrize(("image_crs", "mask_crs"), [
    (COMPOUND_UTM, "EPSG:32616"), ("EPSG:32616", COMPOUND_UTM),
    ("EPSG:25832+7837", "EPSG:25832")])
def test_a_mask_in_the_horizontal_part_of_a_compound_crs_is_on_the_grid(
        make_raster, tmp_path, image_crs, mask_crs):
    """A compound-CRS ortho (UTM + EGM96 height) and its mask in plain UTM (gdal_rasterize
    -a_srs EPSG:32616) were refused as 'the mask's grid differs' though every pixel lies on
    the same ground: heights do not move pixels. The mask is cut as it is."""
    image = make_raster("ortho.tif", np.ones((3, 40, 40), np.uint8),
                        crs=rasterio.crs.CRS.from_user_input(image_crs))
    labels = (np.arange(1600).reshape(40, 40) % 3).astype(np.uint8)
    mask = make_raster("ortho_mask.tif", labels, crs=rasterio.crs.CRS.from_user_input(mask_crs))
    tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=20))
    with rasterio.open(tmp_path / "out" / "masks" / "ortho_1_1.tif") as patch:
        np.testing.assert_array_equal(patch.read(1), labels[20:, 20:])


def test_a_mask_in_another_utm_zone_is_still_refused(make_raster, tmp_path):
    image = make_raster("ortho.tif", np.ones((3, 40, 40), np.uint8),
                        crs=rasterio.crs.CRS.from_user_input(COMPOUND_UTM))
    mask = make_raster("ortho_mask.tif", np.ones((40, 40), np.uint8), crs="EPSG:32617")
    with pytest.raises(InputError, match="the mask's grid differs"):
        tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=20))


def test_a_mask_in_a_crs_of_the_same_epsg_look_names_what_differs(make_raster, tmp_path):
    """An image in EPSG:32616 and a mask in '+proj=utm +zone=16 +ellps=WGS84' (an unknown
    datum on the WGS 84 ellipsoid) were refused with 'CRS EPSG:32616 against CRS
    EPSG:32616'; a compound CRS was named by its whole WKT (1,900 characters). Each is named
    by an exact EPSG code or its name and datum."""
    image = make_raster("ortho.tif", np.ones((3, 40, 40), np.uint8),
                        crs=rasterio.crs.CRS.from_user_input("EPSG:32617+5773"))
    mask = make_raster("ortho_mask.tif", np.ones((40, 40), np.uint8),
                       crs="+proj=utm +zone=16 +ellps=WGS84 +units=m +no_defs")
    with pytest.raises(InputError) as err:
        tile_rasters([image], [mask], tmp_path / "out", options=TileOptions(size=20))
    text = str(err.value)
    assert ("CRS 'unknown' (datum 'Unknown based on WGS 84 ellipsoid') against CRS 'WGS 84 / "
            "UTM zone 17N + EGM96 height'") in text, text
    assert "COMPD_CS" not in text and "EPSG:32616" not in text


def test_bgr_and_bgra_patches_keep_the_colour_interpretation(make_raster, tmp_path):
    """A uint16 image in blue, green, red order with an alpha band (rasterio's RGBA.uint16.tif)
    gave patches of Gray, Undefined, Undefined, Undefined: QGIS then draws band 1 as red
    (colours swapped) and band 4 as data. Patches keep blue, green, red (and the alpha,
    still marking the dataset mask), as gdal_translate -srcwin does; so does an alpha after
    an infrared (RGB + NIR + alpha), which PHOTOMETRIC=RGB cannot say."""
    from rasterio.enums import ColorInterp as C

    pixels = np.random.default_rng(4).integers(1, 10000, (4, 48, 48)).astype(np.uint16)
    pixels[3] = 65535
    pixels[3, :, :10] = 0  # transparent on the left
    bgra = make_raster("bgra.tif", pixels, photometric="MINISBLACK", alpha="UNSPECIFIED")
    bgr = make_raster("bgr.tif", pixels[:3], photometric="MINISBLACK")
    rgbna = make_raster("rgbna.tif", np.concatenate([pixels[:3], pixels]), photometric="RGB",
                        alpha="UNSPECIFIED")  # an alpha after an infrared: band 5 of 5
    for image, kinds in ((bgra, [C.blue, C.green, C.red, C.alpha]),
                         (bgr, [C.blue, C.green, C.red]),
                         (rgbna, [C.red, C.green, C.blue, C.undefined, C.undefined,
                                  C.undefined, C.alpha])):
        with rasterio.open(image, "r+") as dst:
            dst.colorinterp = kinds
        out = tmp_path / image.stem
        tile_rasters([image], None, out, options=TileOptions(size=32, edge="pad"))
        for row in read_index(out):
            with rasterio.open(out / row["image"]) as patch:
                assert patch.colorinterp == tuple(kinds), row["image"]
                x, y = int(row["x_off"]), int(row["y_off"])
                with rasterio.open(image) as src:
                    inside = src.read()[:, y:y + 32, x:x + 32]
                np.testing.assert_array_equal(
                    patch.read()[:, :inside.shape[1], :inside.shape[2]], inside)
                if C.alpha in kinds:  # the alpha's 0s and the padding are no data
                    valid = np.zeros((32, 32), bool)
                    valid[:inside.shape[1], :inside.shape[2]] = inside[-1] > 0
                    np.testing.assert_array_equal(patch.dataset_mask() > 0, valid)


@pytest.mark.parametrize("band4", ["nir", "alpha"])
def test_rgbn_whose_nir_gdal_flags_alpha_keeps_its_lake(make_raster, tmp_path, band4):
    """A 4-band uint8 RGB+NIR GeoTIFF (band 4 flagged alpha by GDAL's default): NIR 0 over a
    lake was nodata (nodata_fraction to 0.21, a mask band over the lake, dropped by
    --max-nodata). Now nodata is where every band is 0 (the collar), as predict has it; a
    real 0/255 alpha band still marks its 0s nodata."""
    from rasterio.enums import ColorInterp as C

    from .conftest import rgbn_with_a_lake

    # a lake (NIR), or transparent; a collar outside the scene
    stack = rgbn_with_a_lake((64, 64), np.s_[20:40, 10:50], np.s_[:, :8], seed=8,
                             alpha=band4 == "alpha")
    image = make_raster("rgbn.tif", stack)
    valid = stack.any(axis=0) if band4 == "nir" else stack[3] > 0
    for out, options in ((tmp_path / "all", TileOptions(size=32)),
                         (tmp_path / "kept", TileOptions(size=32, max_nodata=0.2))):
        tile_rasters([image], None, out, options=options)
        rows = read_index(out)
        for row in rows:
            x, y = int(row["x_off"]), int(row["y_off"])
            here = valid[y:y + 32, x:x + 32]
            assert float(row["nodata_fraction"]) == pytest.approx(1 - here.mean(), abs=1e-6)
            with rasterio.open(out / row["image"]) as patch:
                np.testing.assert_array_equal(patch.read(), stack[:, y:y + 32, x:x + 32])
                np.testing.assert_array_equal(patch.dataset_mask() > 0, here)
                assert patch.colorinterp[3] == (C.undefined if band4 == "nir" else C.alpha)
        if options.max_nodata is not None:  # the collar's (0.25) go; the lake's stay for NIR
            kept = sorted((int(r["x_off"]), int(r["y_off"])) for r in rows)
            assert kept == ([(32, 0), (32, 32)] if band4 == "nir" else [(32, 32)])


def test_masks_folder_pairs_by_name_in_time_linear_in_the_files(tmp_path, monkeypatch):
    """A masks folder of a city's tiles compared every image's name with every mask's (400
    tiles: 160,000 comparisons); now each name is keyed once. Pairs as before: the exact
    name, then a mask suffix in any case, the image's own file left out."""
    import geotile.dataset_names as dataset_names
    import geotile.mask_pairing as mask_pairing

    calls = {"n": 0}
    real = dataset_names.name_key

    def counted(name):
        calls["n"] += 1
        return real(name)

    monkeypatch.setattr(dataset_names, "name_key", counted)
    monkeypatch.setattr(mask_pairing, "name_key", counted)
    n = 120
    images = [tmp_path / "img" / f"t_{i:03d}.tif" for i in range(n)]
    files = [tmp_path / "m" / f"t_{i:03d}{'_MASK' if i % 3 else ''}.tif" for i in range(n)]
    files += [tmp_path / "m" / "t_000.tfw", tmp_path / "m" / "other.tif"]
    paired = mask_pairing._pair_by_stem(images, files, "m")
    assert paired == files[:n]
    assert calls["n"] <= 10 * n  # was about 2 * n * n * len(suffixes tried)


def test_split_warns_when_images_overlap_across_the_antimeridian(make_raster, tmp_path):
    """Fiji: an image in UTM 60S reaching 60 m past 180 degrees and one in UTM 1S lying on
    that ground (east of 180). The first's lon/lat box runs 179.9995 .. -179.9995, taken as
    a box round the rest of the world: the pair was never compared, --split tiled both
    without the overlap warning (the common ground in train and in val)."""
    from pyproj import Transformer
    from rasterio.transform import from_origin

    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(179.9995, -16.8)
    a = make_raster("a.tif", np.ones((1, 64, 128), np.uint8), crs="EPSG:32760",
                    transform=from_origin(x, y, 1, 1))
    x, y = Transformer.from_crs(4326, 32701, always_xy=True).transform(-179.9998, -16.8)
    b = make_raster("b.tif", np.ones((1, 16, 16), np.uint8), crs="EPSG:32701",
                    transform=from_origin(x, y, 1, 1))
    with pytest.warns(GeotileWarning, match=r"a.tif and .*b.tif overlap on the ground"):
        tile_rasters([a, b], None, tmp_path / "t", options=TileOptions(size=16,
                                                                        split=(0.5, 0.5)))


@pytest.mark.parametrize("west, overlap", [(-180.0, True), (179.4, True), (-179.5, False)])
def test_split_compares_a_lonlat_image_with_one_across_the_antimeridian(
        make_raster, tmp_path, west, overlap):
    """A lon/lat image given first and one in UTM 60S running 179.5 E .. 179.7 W: the second's
    outline, moved to lon/lat, jumped from 180 to -180 (a box round the rest of the world,
    or no valid ring), so a true overlap of 0.2-0.3 degrees either side of 180 gave no
    warning (given the other way round it did). One wholly east of it still gives none."""
    from pyproj import Transformer
    from rasterio.transform import from_origin

    a = make_raster("a.tif", np.ones((1, 100, 100), np.uint8), crs="EPSG:4326",
                    transform=from_origin(west, -17.0, 0.005, 0.005))
    to_utm = Transformer.from_crs(4326, 32760, always_xy=True)
    (x0, x1), (y0, _) = to_utm.transform([179.5, -179.7], [-17.0, -17.0])
    b = make_raster("b.tif", np.ones((1, 100, 100), np.uint8), crs="EPSG:32760",
                    transform=from_origin(x0, y0, (x1 - x0) / 100, (x1 - x0) / 100))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tile_rasters([a, b], None, tmp_path / "t", options=TileOptions(size=16,
                                                                        split=(0.5, 0.5)))
    said = [str(w.message) for w in caught if "overlap on the ground" in str(w.message)]
    assert len(said) == overlap and (not said or "a.tif and" in said[0])


@pytest.mark.parametrize("channels", [("footprint", "boundary"), ("boundary", "footprint"),
                                      ("contact", "footprint", "boundary")])
def test_a_masks_footprint_band_is_counted_whatever_its_place(make_raster, tmp_path,
                                                              channels):
    """make-masks --channels contact,footprint: --skip-empty dropped the patch that is 94 %
    building (0 patches of 2 kept) and boundary,footprint gave it positive_fraction 0.0625,
    the boundary band's, where footprint,boundary gave 0.9375. The footprint band (as
    make-masks describes it) is the one counted, wherever --channels put it."""
    import geopandas as gpd
    import shapely

    from geotile.masks import MaskOptions, make_masks
    from tests.conftest import UTM_CRS, UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.full((1, 32, 64), 7, np.uint8))  # 0.5 m pixels
    labels = tmp_path / "l.geojson"  # a building over the left patch but its last 2 columns
    gpd.GeoDataFrame(geometry=[shapely.box(x0 - 5, y0 - 20, x0 + 15, y0 + 5)],
                     crs=UTM_CRS).to_file(labels)
    mask = tmp_path / "mask.tif"
    make_masks(labels, [image], [mask], options=MaskOptions(channels=channels))
    summary = tile_rasters([image], [mask], tmp_path / "out",
                           options=TileOptions(size=32, skip_empty=True))
    rows = read_index(tmp_path / "out")
    assert summary.written == 1 and [r["col"] for r in rows] == ["0"]
    assert float(rows[0]["positive_fraction"]) == 30 / 32


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_no_data_of_a_mask_is_255_in_png_and_npy_patches(make_raster, tmp_path, fmt):
    """Land cover codes declaring nodata 0 (a no-data strip): tile counts their 0 as no
    data (index.csv, the warning), but PNG/npy mask patches, which hold no nodata value or
    tag, kept the 0s, read as class 0 by every trainer (PIL, cv2, mmsegmentation's
    ignore_index 255), exit 0 -> written as 255, the ignore value, as index.csv counts
    them; class ids unchanged; a 0/1 mask's declared 0 stays background."""
    from PIL import Image

    codes = np.full((64, 64), 10, np.uint8)
    codes[32:, 32:] = 20
    codes[:, :8] = 0  # no data
    image = make_raster("a.tif", np.full((1, 64, 64), 7, np.uint8))
    mask = make_raster("a_mask.tif", codes, nodata=0)
    with pytest.warns(GeotileWarning, match="its 0 is read as no data"):
        tile_rasters([image], [mask], tmp_path / "t", options=TileOptions(size=32, fmt=fmt))

    def read(name):
        path = tmp_path / "t" / "masks" / f"{name}.{fmt}"
        return np.asarray(Image.open(path)) if fmt == "png" else np.load(path)[0]

    rows = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "t")}
    for name, want in (("a_0_0", codes[:32, :32]), ("a_1_1", codes[32:, 32:])):
        assert (read(name) == np.where(want == 0, 255, want)).all()
    assert float(rows[f"a_0_0.{fmt}"]["nodata_fraction"]) == 0.25
    assert (read("a_0_0")[:, :8] == 255).all()
    binary = make_raster("b_mask.tif", (codes > 0).astype(np.uint8), nodata=0)
    image = make_raster("b.tif", np.full((1, 64, 64), 7, np.uint8))
    with pytest.warns(GeotileWarning, match="a 0/1 mask declaring nodata 0"):
        tile_rasters([image], [binary], tmp_path / "u", options=TileOptions(size=32, fmt=fmt))
    path = tmp_path / "u" / "masks" / f"b_0_0.{fmt}"
    patch = np.asarray(Image.open(path)) if fmt == "png" else np.load(path)[0]
    assert set(np.unique(patch).tolist()) == {0, 1}


@pytest.mark.parametrize("fmt", ["tif", "png", "npy"])
def test_mask_pixels_on_the_image_nodata_are_ignored(make_raster, tmp_path, fmt):
    """A SpaceNet-style tile whose left strip is the image's nodata (0), with a class mask
    made elsewhere that says background (0) or a class there: index.csv counted the strip
    as nodata, but the mask patches kept 0 and 2 there, so a trainer learnt the black
    nodata as background and as class 2, exit 0 -> those mask pixels are 255, the ignore
    value (as make-masks writes them), in every format; elsewhere the ids are unchanged.
    A 0/255 mask, whose 255 is the building, is left as it is."""
    from PIL import Image

    pixels = np.full((3, 64, 64), 90, np.uint8)
    pixels[:, :, :16] = 0  # no data
    image = make_raster("a.tif", pixels, nodata=0)
    labels = np.zeros((64, 64), np.uint8)
    labels[8:24, 10:30] = 2  # partly over the nodata strip
    labels[40:60, 30:50] = 1
    mask = make_raster("a_mask.tif", labels)
    tile_rasters([image], [mask], tmp_path / "t", options=TileOptions(size=32, fmt=fmt))

    def read(folder, name):
        path = tmp_path / folder / "masks" / f"{name}.{fmt}"
        if fmt == "npy":
            return np.load(path)[0]
        if fmt == "png":
            return np.asarray(Image.open(path))
        with rasterio.open(path) as src:
            return src.read(1)

    want = labels.copy()
    want[:, :16] = 255
    for name, rows, cols in (("a_0_0", slice(0, 32), slice(0, 32)),
                             ("a_1_1", slice(32, 64), slice(32, 64)),
                             ("a_1_0", slice(32, 64), slice(0, 32))):
        assert (read("t", name) == want[rows, cols]).all(), name
    index = {r["image"].split("/")[-1]: r for r in read_index(tmp_path / "t")}
    assert float(index[f"a_0_0.{fmt}"]["nodata_fraction"]) == 0.5
    assert float(index[f"a_0_0.{fmt}"]["positive_fraction"]) == pytest.approx(
        (16 * 14) / 32 ** 2)  # class 2 on valid pixels only
    binary = make_raster("b_mask.tif", np.where(labels > 0, 255, 0).astype(np.uint8))
    image_b = make_raster("b.tif", pixels, nodata=0)
    tile_rasters([image_b], [binary], tmp_path / "u", options=TileOptions(size=32, fmt=fmt))
    assert (read("u", "b_0_0") == np.where(labels > 0, 255, 0)[:32, :32]).all()


def test_skip_empty_split_plans_on_what_is_written_over_image_nodata(make_raster, tmp_path):
    """--skip-empty --split planned on the mask alone: patches whose buildings lie only on
    the image's nodata (written as 255, positive_fraction 0, so dropped) were counted as
    kept, and blocks of them given to a split: 'no patch in train', every patch in val,
    exit 0 -> the plan counts the image's nodata as the writing does: both splits hold
    patches, in the proportions asked."""
    pixels = np.full((3, 256, 256), 90, np.uint8)
    pixels[:, :, :192] = 0  # three quarters no data
    image = make_raster("a.tif", pixels, nodata=0)
    labels = np.zeros((256, 256), np.uint8)
    labels[4::16, :] = 1  # buildings on every patch, on the no data too
    mask = make_raster("a_mask.tif", labels)
    for seed in (0, 5):  # before: {'val': 16} and 'no patch in train'
        with warnings.catch_warnings():
            warnings.simplefilter("error", GeotileWarning)
            summary = tile_rasters([image], [mask], tmp_path / f"t{seed}", options=TileOptions(
                size=32, skip_empty=True, split=(0.5, 0.5, 0.0), seed=seed))
        rows = read_index(tmp_path / f"t{seed}")
        assert summary.written == len(rows) == 16  # the two valid columns
        assert summary.per_split == {"train": 8, "val": 8}
        assert all(float(r["positive_fraction"]) > 0 for r in rows)


def test_float_mask_declaring_nodata_nan_is_nan_on_the_image_nodata(make_raster, tmp_path):
    """A float class mask declaring nodata NaN over an image with a nodata strip kept its
    class 1 there in the patches while index.csv's positive_fraction left it out (0.5 for
    a patch holding 1 everywhere), exit 0 -> written NaN there, as its padding is."""
    pixels = np.full((3, 32, 32), 90, np.uint8)
    pixels[:, :, :16] = 0
    image = make_raster("a.tif", pixels, nodata=0)
    mask = make_raster("a_mask.tif", np.ones((32, 32), np.float32), nodata=float("nan"))
    for fmt in ("tif", "npy"):
        tile_rasters([image], [mask], tmp_path / fmt, options=TileOptions(size=32, fmt=fmt))
        path = tmp_path / fmt / "masks" / f"a_0_0.{fmt}"
        if fmt == "npy":
            patch = np.load(path)[0]
        else:
            with rasterio.open(path) as src:
                patch = src.read(1)
        assert np.isnan(patch[:, :16]).all() and (patch[:, 16:] == 1).all()
        row = read_index(tmp_path / fmt)[0]
        assert float(row["positive_fraction"]) == 0.5
        assert float(row["nodata_fraction"]) == 0.5


def _gdal_bytes(array, nodata, origin):
    """The GeoTIFF GDAL writes for ``array`` (uncompressed, as the patch writer asks)."""
    from rasterio.io import MemoryFile

    profile = {"driver": "GTiff", "count": array.shape[0], "dtype": array.dtype.name,
               "width": array.shape[2], "height": array.shape[1], "nodata": nodata,
               "interleave": "pixel", "crs": "EPSG:32616",
               "transform": from_origin(origin[0], origin[1], 0.3, 0.3)}
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(array)
        return memory.read()


@pytest.mark.parametrize("nodata", [None, 255])
def test_template_writes_gdal_bytes_for_patches_with_an_empty_strip(tmp_path, nodata):
    """GDAL leaves a strip holding nodata alone (0 where none is declared) unwritten until
    the file closes, then writes it full-size at the file's end: other strip offsets and
    sizes than the template's. A building mask patch whose last rows were background was
    97,632 bytes from GDAL and 90,432 from the template, so which thread learnt which
    patch decided a file's bytes from run to run."""
    from geotile.tiff_template import TiffTemplate

    empty = 0 if nodata is None else nodata
    rng = np.random.default_rng(5)
    arrays = [rng.integers(1, 3, (1, 300, 300), dtype=np.uint8) for _ in range(6)]
    arrays[2][:, 270:] = empty  # the last two strips (27 rows a strip)
    arrays[3][:, 27:54] = empty  # the second strip
    arrays[4][:] = empty
    arrays[5][:, 297:] = empty  # the last, partial strip alone
    # learnt from the full patches; then from them, though patches 2-5 come first
    for order in ([0, 1, 2, 3, 4, 5, 0], [2, 3, 0, 4, 1, 5, 2, 3, 4, 5, 0]):
        template = TiffTemplate()
        for n, i in enumerate(order):
            origin = (500000.0 + n, 3700000.0 - i)
            path = tmp_path / f"{n}.tif"
            want = _gdal_bytes(arrays[i], nodata, origin)
            template.write(path, arrays[i], origin, lambda p=path, w=want: p.write_bytes(w))
            assert path.read_bytes() == want, (order, n, i)
        assert template.state == "ready"


def test_template_bytes_do_not_depend_on_which_thread_writes_first(tmp_path):
    """Patches written from several threads, as tile's writer pool does, are GDAL's bytes
    whichever reaches the template first, those with an empty strip too (a thread that
    saw no layout yet, then the template ready, filled one: 1 run in 5 of tile)."""
    from concurrent.futures import ThreadPoolExecutor

    from geotile.tiff_template import TiffTemplate

    rng = np.random.default_rng(8)
    arrays = [rng.integers(1, 3, (1, 300, 300), dtype=np.uint8) for _ in range(8)]
    for array in arrays[1::2]:
        array[:, 54:81] = 0
    wanted = [_gdal_bytes(a, None, (500000.0 + i, 3700000.0)) for i, a in enumerate(arrays)]
    for run in range(30):
        template = TiffTemplate()
        order = rng.permutation(len(arrays))

        def write(i, run=run, template=template):
            path = tmp_path / f"{run}_{i}.tif"
            template.write(path, arrays[i], (500000.0 + i, 3700000.0),
                           lambda: path.write_bytes(wanted[i]))
            return path.read_bytes() == wanted[i]

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert all(pool.map(write, order)), run


def test_overwrite_never_replaces_a_patch_that_an_input_vrt_reads(make_raster, tmp_path):
    """tile v.vrt -o out --overwrite, v.vrt reading out/images/img_0_0.tif (a patch of the
    earlier run): the patch was removed with the earlier output, exit 0, and v.vrt left
    pointing at nothing. Now refused, as an input given itself is, before any work."""
    from tests.conftest import write_vrt

    out = tmp_path / "out"
    tile_rasters([make_raster("img.tif", np.ones((1, 100, 100), np.uint8))], None, out,
                 options=TileOptions(size=50))
    patch = out / "images" / "img_0_0.tif"
    before = patch.read_bytes()
    vrt = write_vrt(tmp_path / "v.vrt", patch)
    with pytest.raises(InputError, match=r"v\.vrt.*--overwrite would replace"):
        tile_rasters([vrt], None, out, options=TileOptions(size=25), overwrite=True)
    assert patch.read_bytes() == before
