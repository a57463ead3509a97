"""Generated benchmark inputs, cached under benchmarks/work/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

CRS = "EPSG:32616"
WORK = Path(__file__).resolve().parent / "work"


def scene(size: int, buildings: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """(orthotile.tif (RGB uint8), footprints.geojson, mask.tif) of ``size`` px a side."""
    stem = WORK / f"scene_{size}_{buildings}"
    tif, labels, mask = (stem.with_suffix(".tif"), stem.with_name(stem.name + ".geojson"),
                         stem.with_name(stem.name + "_mask.tif"))
    if tif.exists() and labels.exists() and mask.exists():
        return tif, labels, mask
    import geopandas as gpd  # here: the GPU run needs only blank(), not geopandas

    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    transform = from_origin(500000, 3700000, 0.3, 0.3)
    extent = size * 0.3
    centres = rng.uniform(5, extent - 5, (buildings, 2))
    sides = rng.uniform(3, 9, (buildings, 2))
    angles = rng.uniform(0, 90, buildings)
    polygons = [shapely.affinity.rotate(shapely.box(500000 + x - a, 3700000 - y - b,
                                                    500000 + x + a, 3700000 - y + b), t)
                for (x, y), (a, b), t in zip(centres, sides / 2, angles, strict=True)]
    gpd.GeoDataFrame(geometry=polygons, crs=CRS).to_file(labels)
    burnt = rasterize(polygons, out_shape=(size, size), transform=transform, dtype="uint8")
    profile = {"driver": "GTiff", "width": size, "height": size, "crs": CRS,
               "transform": transform, "tiled": True, "compress": "deflate"}
    with rasterio.open(mask, "w", count=1, dtype="uint8", **profile) as dst:
        dst.write(burnt, 1)
    with rasterio.open(tif, "w", count=3, dtype="uint8", **profile) as dst:
        for top in range(0, size, 1024):
            rows = min(1024, size - top)
            band = rng.integers(60, 120, (3, rows, size), dtype=np.uint8)
            band[:, burnt[top : top + rows] > 0] = 200
            dst.write(band, window=((top, top + rows), (0, size)))
    return tif, labels, mask


def blank(size: int, height: int | None = None) -> Path:
    """A ``size`` px (``size`` x ``height``) RGB uint8 raster of noise (memory benchmarks),
    written by bands."""
    height = size if height is None else height
    path = WORK / (f"blank_{size}.tif" if height == size else f"blank_{size}x{height}.tif")
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    profile = {"driver": "GTiff", "width": size, "height": height, "count": 3, "dtype": "uint8",
               "crs": CRS, "transform": from_origin(500000, 3700000, 0.3, 0.3), "tiled": True,
               "compress": "deflate", "bigtiff": "IF_SAFER", "num_threads": "ALL_CPUS"}
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, height, 1024):
            rows = min(1024, height - top)
            dst.write(rng.integers(0, 255, (3, rows, size), dtype=np.uint8),
                      window=((top, top + rows), (0, size)))
    return path


def tiles(image: Path, per_side: int) -> list[Path]:
    """``image`` cut into per_side x per_side GeoTIFF tiles (as city orthotiles come)."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    folder = WORK / f"{image.stem}_tiles_{per_side}"
    paths = [folder / f"tile_{r}_{c}.tif" for r in range(per_side) for c in range(per_side)]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(image) as src:
        size = src.width // per_side
        for path in paths:
            r, c = (int(v) for v in path.stem.split("_")[1:])
            window = Window(c * size, r * size, size, size)
            profile = dict(src.profile, width=size, height=size,
                           transform=window_transform(window, src.transform))
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(src.read(window=window))
    return paths
