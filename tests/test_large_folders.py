"""tile and evaluate over folders of many images: no step may look at the folder, or at
every other image, once per image (a folder of 20,000 tiles took hours)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geotile.errors import InputError
from tests.conftest import write_raster

N = 30


def _folder(tmp_path, n: int = N):
    """``n`` 8x8 images in images/, each with its _mask.tif in masks/ (1 in a 3x3 square)."""
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 1
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    for i in range(n):
        write_raster(tmp_path / "images" / f"t_{i:03d}.tif", np.full((3, 8, 8), 90, np.uint8))
        write_raster(tmp_path / "masks" / f"t_{i:03d}_mask.tif", mask)
    return tmp_path / "images", tmp_path / "masks"


def test_tile_lists_the_image_folder_once_not_once_per_image(tmp_path, run_cli,
                                                              monkeypatch):
    """The udm2 beside each image (Planet) was looked for by listing its folder again for
    every image: 30 images, 30 listings (20,000 images: 400 million names)."""
    images, masks = _folder(tmp_path)
    listed = []
    iterdir = Path.iterdir

    def counted(self):
        listed.append(self)
        return iterdir(self)

    monkeypatch.setattr(Path, "iterdir", counted)
    result = run_cli("tile", images, "--masks", masks, "-o", tmp_path / "out", "--size", 8)
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out" / "masks").iterdir())) == N
    assert sum(p.resolve() == images.resolve() for p in listed) <= 5  # read as input: 3


def test_udm2_added_after_a_listing_is_found(tmp_path):
    """The folder's listing is kept while the folder is unchanged: a udm2 written after
    one image was looked at is found for the next."""
    from geotile.planet_files import udm2_beside

    image = write_raster(tmp_path / "20230601_101010_00_2475_3B_AnalyticMS_SR.tif",
                         np.zeros((4, 8, 8), np.uint16))
    assert udm2_beside(image) is None
    udm2 = write_raster(tmp_path / "20230601_101010_00_2475_3B_udm2.tif",
                        np.ones((8, 8, 8), np.uint8))
    assert udm2_beside(image) == udm2


def _touched(folder: Path, names) -> list[Path]:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).touch()
    return [folder / name for name in names]


def _counted(monkeypatch, module, name: str) -> list:
    """Calls of ``module.name`` from now on, counted (one item per call)."""
    calls, original = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(None)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_elevation_filter_is_not_quadratic(tmp_path, monkeypatch):
    """Each image's stem was compared with every other's to find elevation rasters: 1,500
    images, 2 million comparisons (24 s; 4,000: 172 s); now each stem's names are looked up. The
    GeoNRW and Potsdam DSMs and nDSMs are still left out, their images kept."""
    import geotile.dataset_names
    from geotile.mask_pairing import without_elevation

    _touched(tmp_path / "masks", ["294_5628_rgb_seg.tif", "top_potsdam_2_10_label.tif"])
    elevation = ["294_5628_dem.tif", "dsm_potsdam_02_10.tif",
                 "dsm_potsdam_02_10_normalized_lastools.jpg"]
    images = _touched(tmp_path / "images", [f"t_{i:04d}.tif" for i in range(300)] + [
        "294_5628_rgb.jp2", "top_potsdam_2_10_RGB.tif", *elevation])
    compared = _counted(monkeypatch, geotile.dataset_names, "names_elevation")
    kept = without_elevation(images, tmp_path / "masks")
    assert sorted(p.name for p in set(images) - set(kept)) == sorted(elevation)
    assert len(compared) <= len(images), f"{len(compared)} comparisons, {len(images)} images"


def test_masks_among_the_images_filter_is_not_quadratic(tmp_path, monkeypatch):
    """tile DIR --masks DIR: each file was compared with every other to tell masks from
    images (1,200 images and their masks: 56 s; 3,000: 350 s); now looked up. The
    masks are left out, an image named as its own mask's image (x_buildings.tif beside
    x.tif, each with its _mask) kept."""
    import geotile.dataset_names
    from geotile.mask_pairing import without_masks

    stems = [f"t_{i:04d}" for i in range(300)] + ["x", "x_buildings"]
    files = _touched(tmp_path / "data", [f"{s}.tif" for s in stems]
                     + [f"{s}_mask.tif" for s in stems])
    compared = _counted(monkeypatch, geotile.dataset_names, "_named")  # names_mask_of's
    kept = without_masks(files, tmp_path / "data")
    assert sorted(p.name for p in kept) == sorted(f"{s}.tif" for s in stems)
    assert len(compared) <= len(files), f"{len(compared)} comparisons, {len(files)} files"


def test_evaluate_folders_paired_by_spacenet_id_is_not_quadratic(tmp_path, monkeypatch):
    """Predictions named by SpaceNet image id (AOI_2_Vegas_img1.geojson) against truths named
    buildings_AOI_2_Vegas_img1.geojson were paired by trying every truth with every
    prediction, some twice: 300 each, 225,150 comparisons (6.8 s; 1,000: 58 s; SpaceNet
    Vegas' 3,851 test images some 15 minutes); now looked up. Each pairs with its own."""
    import geotile.folder_pairs
    from geotile.folder_pairs import pair_folders

    n = 300
    empty = '{"type": "FeatureCollection", "features": []}'
    for folder, prefix in (("pred", "RGB-PanSharpen_"), ("truth", "buildings_")):
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{prefix}AOI_2_Vegas_img{i}.geojson").write_text(empty)
    (tmp_path / "pred" / "AOI_2_Vegas_img7.geojson").write_text(empty)  # a second of img7
    compared = _counted(monkeypatch, geotile.folder_pairs, "image_name")
    ranked = _counted(monkeypatch, geotile.dataset_names, "mask_rank")
    with pytest.raises(InputError, match=r"AOI_2_Vegas_img7\.geojson.*name the same image"):
        pair_folders(tmp_path / "pred", tmp_path / "truth")
    (tmp_path / "pred" / "AOI_2_Vegas_img7.geojson").unlink()
    del compared[:], ranked[:]
    pairs = pair_folders(tmp_path / "pred", tmp_path / "truth")
    assert {name: (p.name, t.name) for name, (p, t) in pairs.pairs.items()} == {
        f"AOI_2_Vegas_img{i}": (f"RGB-PanSharpen_AOI_2_Vegas_img{i}.geojson",
                                f"buildings_AOI_2_Vegas_img{i}.geojson") for i in range(n)}
    assert pairs.unpaired_prediction == pairs.unpaired_truth == []
    assert len(compared) + len(ranked) <= 10 * n, \
        f"{len(compared)} + {len(ranked)} comparisons, {n} files each"


def test_udm2_in_an_archive_of_many_scenes_is_not_quadratic(tmp_path, monkeypatch):
    """Each image of a Planet order zip had its udm2 looked for by filtering, sorting and
    reading every member's name again (300 scenes: 90,300 name reads, 1.1 s; 1,000: 10 s;
    3,000: 94 s); now once per archive folder. Each image still finds its own udm2."""
    import zipfile

    import geotile.planet_files
    from geotile.planet_files import udm2_beside

    archive = tmp_path / "order.zip"
    scenes = [f"20230601_{i:06d}_00_2475" for i in range(300)]
    with zipfile.ZipFile(archive, "w") as zf:
        for scene in scenes:
            zf.writestr(f"PSScene/{scene}_3B_AnalyticMS_SR.tif", b"")
            zf.writestr(f"PSScene/{scene}_3B_udm2.tif", b"")
    read = _counted(monkeypatch, geotile.planet_files, "udm_scene")
    folder = f"/vsizip/{archive}/PSScene"
    found = [udm2_beside(f"{folder}/{scene}_3B_AnalyticMS_SR.tif") for scene in scenes]
    assert found == [f"{folder}/{scene}_3B_udm2.tif" for scene in scenes]
    assert len(read) <= 4 * 2 * len(scenes), f"{len(read)} name reads, {len(scenes)} scenes"


def test_elevation_rasters_beside_their_images_are_not_quadratic(tmp_path, monkeypatch):
    """A GeoNRW city in one folder (<E>_<N>_rgb.tif beside its _dem.tif, the _seg masks in
    masks/): each DEM was compared with every mask, each mask resolved again (300 tiles:
    90,000 names_mask_of calls and 180,000 resolves, 5.2 s; 1,000: 51 s); now looked up.
    The DEMs are left out; a DEM with a mask of its own (x_dem_mask.tif) is an image."""
    import geotile.dataset_names
    import geotile.mask_pairing
    from geotile.mask_pairing import without_elevation

    tiles = [f"{300 + i}_5628" for i in range(300)]
    _touched(tmp_path / "masks", [f"{t}_seg.tif" for t in tiles] + ["x_seg.tif",
                                                                     "x_dem_mask.tif"])
    images = _touched(tmp_path / "images", [f"{t}_{kind}.tif" for t in [*tiles, "x"]
                                            for kind in ("rgb", "dem")])
    compared = _counted(monkeypatch, geotile.dataset_names, "_named")  # names_mask_of's
    resolved = _counted(monkeypatch, geotile.mask_pairing, "_resolved")
    kept = without_elevation(images, tmp_path / "masks")
    assert sorted(p.name for p in kept) == sorted(
        [f"{t}_rgb.tif" for t in tiles] + ["x_rgb.tif", "x_dem.tif"])
    work = len(compared) + len(resolved)
    assert work <= 3 * len(images), f"{work} comparisons and resolves, {len(images)} images"


def _dsm_folder(tmp_path, n: int = 300) -> list[Path]:
    """``n`` images in images/, each with its _dsm.tif (and a _mask.tif) in dsm/."""
    stems = [f"t_{i:04d}" for i in range(n)]
    _touched(tmp_path / "dsm", [f"{s}_{kind}.tif" for s in stems for kind in ("dsm", "mask")])
    return _touched(tmp_path / "images", [f"{s}.tif" for s in stems])


def _name_work(monkeypatch) -> list:
    import geotile.dataset_names
    import geotile.extra_bands

    counts = [_counted(monkeypatch, geotile.dataset_names, name)
              for name in ("names_elevation_of", "_named")]  # _named: names_mask_of's
    return [*counts, _counted(monkeypatch, geotile.extra_bands, "_same_file_key")]


def test_extra_bands_folder_is_not_quadratic(tmp_path, monkeypatch):
    """tile/predict --extra-bands dsm/: each image's DSM was looked for by comparing every
    file of dsm/ with it, each resolved again (300 images: 180,000 names_mask_of and
    names_elevation_of calls, 180,000 realpaths, 2.7 s; 1,000: 32 s); now looked up.
    Each image gets its own DSM, not its mask."""
    from geotile.extra_bands import pair_extra_bands

    images = _dsm_folder(tmp_path)
    work = _name_work(monkeypatch)
    paired = pair_extra_bands(images, [tmp_path / "dsm"], dates=True)
    assert [p.name for p in paired] == [f"{p.stem}_dsm.tif" for p in images]
    done = sum(map(len, work))
    assert done <= 8 * len(images), f"{done} comparisons, {len(images)} images"


def test_paired_images_filter_is_not_quadratic(tmp_path, monkeypatch):
    """rtc/ --extra-bands rtc/ (HyP3's <scene>_VV.tif beside its _VH.tif): each image was
    compared with every file of the folder to find the images that are another's extra
    bands (300 scenes: 360,000 comparisons); now looked up. The _VH files are left out."""
    from geotile.extra_bands import without_paired_images
    from geotile.input_files import expand_inputs

    scenes = [f"S1A_IW_2023060{i % 9 + 1}T{i:06d}_DVP_RTC30_G_gpuned_{i:04X}" for i in range(300)]
    _touched(tmp_path / "rtc", [f"{s}_{pol}.tif" for s in scenes for pol in ("VV", "VH")])
    images = expand_inputs([tmp_path / "rtc"])
    work = _name_work(monkeypatch)
    kept = without_paired_images(images, [tmp_path / "rtc"])
    assert sorted(p.name for p in kept) == sorted(f"{s}_VV.tif" for s in scenes)
    assert kept.listed == {p: a for p, a in images.listed.items() if p in kept}
    done = sum(map(len, work))
    assert done <= 8 * len(images), f"{done} comparisons, {len(images)} files"


def test_elevation_rasters_left_out_without_a_scan_per_image(tmp_path, monkeypatch):
    """The DEMs found were then removed by looking each image up in the list of them (1,000
    GeoNRW tiles: 1.5 million path comparisons, 3 s of 4); now a set. The images kept stay
    in their order."""
    from pathlib import PurePath

    from geotile.mask_pairing import without_elevation

    tiles = [f"{300 + i}_5628" for i in range(300)]
    _touched(tmp_path / "masks", [f"{t}_seg.tif" for t in tiles])
    images = _touched(tmp_path / "images", [f"{t}_{kind}.tif" for t in tiles[::-1]
                                            for kind in ("dem", "rgb")])
    compared = _counted(monkeypatch, PurePath, "__eq__")
    kept = without_elevation(images, tmp_path / "masks")
    assert [p.name for p in kept] == [f"{t}_rgb.tif" for t in tiles[::-1]]
    assert len(compared) <= 3 * len(images), f"{len(compared)} comparisons, {len(images)} images"


def test_masks_given_file_by_file_are_not_quadratic(tmp_path, monkeypatch):
    """tile images/*.tif --masks masks/*.tif (the shell lists both): each mask was compared
    with every image, every image's name read again for each mask (300: 90,000 names_mask_of
    and 90,000 image_stem calls, 1.8 s; 1,000: 19 s); now looked up. Each image gets its
    own mask, whatever the order the masks come in."""
    import geotile.dataset_names
    import geotile.mask_pairing
    from geotile.mask_pairing import pair_masks

    stems = [f"t_{i:04d}" for i in range(300)]
    images = _touched(tmp_path / "images", [f"{s}.tif" for s in stems])
    masks = _touched(tmp_path / "masks", [f"{s}_mask.tif" for s in stems])[::-1]
    work = [_counted(monkeypatch, geotile.mask_pairing, name) for name in ("image_stem", "nfc")]
    work.append(_counted(monkeypatch, geotile.dataset_names, "_named"))  # names_mask_of's
    paired = pair_masks(images, masks)
    assert [p.name for p in paired] == [f"{s}_mask.tif" for s in stems]
    done = sum(map(len, work))
    assert done <= 8 * len(images), f"{done} comparisons, {len(images)} images"


def test_paired_images_kept_without_a_scan_per_image(tmp_path, monkeypatch):
    """The inputs a folder listed were then kept by looking each up in the list of images
    kept (1,000 HyP3 scenes: 1.5 million path comparisons, 0.8 s); now a set. The kept
    images stay in order, each still known as listed by rtc/."""
    from pathlib import PurePath

    from geotile.extra_bands import without_paired_images
    from geotile.input_files import expand_inputs

    scenes = [f"S1A_IW_20230601T{i:06d}_DVP_RTC30_G_gpuned_{i:04X}" for i in range(300)]
    _touched(tmp_path / "rtc", [f"{s}_{pol}.tif" for s in scenes for pol in ("VV", "VH")])
    images = expand_inputs([tmp_path / "rtc"])
    compared = _counted(monkeypatch, PurePath, "__eq__")
    kept = without_paired_images(images, [tmp_path / "rtc"])
    assert [p.name for p in kept] == [p.name for p in images if p.stem.endswith("_VV")]
    assert list(kept.listed) == list(kept)
    assert len(compared) <= 3 * len(images), f"{len(compared)} comparisons, {len(images)} files"
