"""Hyperspectral and many-band rasters (EnMAP's 224 int16 bands, ENVI BIL/BIP): nodata
masks read from the pixels read, band ranges in --bands, ENVI's bad band list."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from geotile.raster import read_block
from tests.conftest import write_raster


def _cube(bands=40, size=48, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cube = rng.integers(0, 10000, (bands, size, size), dtype=np.int16)
    cube[:, :10, :12] = -32768  # outside the scene: every band nodata
    cube[3, 20:25, 30:40] = -32768  # one band's dropout: the pixel stays valid
    return cube


@pytest.mark.parametrize("interleave", ["pixel", "band"])
@pytest.mark.parametrize("indexes", [None, [4, 1, 2], [4, 4]])
def test_a_nodata_value_masks_pixels_as_gdal_without_reading_its_masks(
        tmp_path, monkeypatch, interleave, indexes):
    # GDAL's mask of a pixel-interleaved file reads every band's blocks once per band: 224
    # decodes of each 256 px tile of EnMAP's (190 s for a 1000 x 256 strip); the pixels
    # read already tell where each band holds the nodata value
    path = write_raster(tmp_path / "cube.tif", _cube(), nodata=-32768, tiled=True,
                        blockxsize=16, blockysize=16, interleave=interleave)
    with rasterio.open(path) as src:
        window = Window(5, 3, 43, 30)
        bands = indexes or list(range(1, src.count + 1))
        expected = np.logical_or.reduce(src.read_masks(sorted(set(bands)), window=window) > 0)

        def no_masks(*args, **kwargs):
            raise AssertionError("GDAL's nodata masks read")

        monkeypatch.setattr(type(src), "read_masks", no_masks)
        monkeypatch.setattr(type(src), "dataset_mask", no_masks)
        pixels, valid = read_block(src, 5, 3, 45, 30, indexes)
    assert pixels.shape == (len(bands), 30, 45)
    np.testing.assert_array_equal(valid[:, :43], expected)
    assert not valid[:, 43:].any()  # padding past the edge
    assert not valid[:7, :7].any() and valid[7:, :7].all()  # rows 3-9 of columns 5-11
    # band 4's dropout: nodata when it is the only band read
    assert valid[17:22, 25:35].all() == (indexes != [4, 4])
    assert valid[17:22, 25:35].any() == (indexes != [4, 4])

