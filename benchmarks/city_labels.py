"""City-scale labels: `python -m benchmarks.city_labels [--features N] [--repeat R]`.

Generates a labels file of N small rotated rectangles (default 300,000) over a ~30 km
square (GeoJSON and GeoPackage with its R-tree) and one 2000 px tile (0.3 m) in its
middle, then times `geotile make-masks` from each format against gdal_rasterize (when
installed), each a fresh process; peak RSS from /proc (VmHWM) as in the main runner.
Appends a section to RESULTS.md (``--output``) and checks that the masks are equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
from pathlib import Path

import numpy as np

from benchmarks.inputs import WORK
from benchmarks.runner import GEOTILE, HERE, compile_geotile, machine, run_once

CRS = "EPSG:32616"
ORIGIN = (400000.0, 3720000.0)  # upper-left corner of the labels' area


def make_inputs(features: int = 300_000, extent_m: float = 30_000, tile_px: int = 2000,
                pixel: float = 0.3, seed: int = 0, work: Path = WORK) -> tuple[Path, Path, Path]:
    """(labels.geojson, labels.gpkg, tile.tif), cached under ``work``."""
    import pyogrio
    import rasterio
    import shapely
    from rasterio.transform import from_origin

    stem = work / f"city_{features}"
    geojson, gpkg, tif = (stem.with_suffix(".geojson"), stem.with_suffix(".gpkg"),
                          stem.with_name(stem.name + f"_tile{tile_px}.tif"))
    if geojson.exists() and gpkg.exists() and tif.exists():
        return geojson, gpkg, tif
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN
    centres = rng.uniform(10, extent_m - 10, (features, 2))
    half = rng.uniform(2, 8, (features, 2))
    angle = rng.uniform(0, np.pi / 2, features)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64)
    local = corners[None, :, :] * half[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    xs = x0 + centres[:, 0:1] + local[:, :, 0] * cos - local[:, :, 1] * sin
    ys = y0 - centres[:, 1:2] + local[:, :, 0] * sin + local[:, :, 1] * cos
    rings = np.round(np.stack([xs, ys], axis=-1), 2)
    polygons = shapely.polygons(rings)
    classes = np.where(rng.uniform(size=features) < 0.8, "house", "shed")
    with open(geojson, "w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "crs": {"type": "name", "properties": '
                  f'{{"name": "urn:ogc:def:crs:EPSG::{CRS.split(":")[1]}"}}}}, "features": [\n')
        for index, (text, kind) in enumerate(zip(shapely.to_geojson(polygons), classes,
                                                 strict=True)):
            comma = "," if index < features - 1 else ""
            out.write(f'{{"type": "Feature", "properties": {{"id": {index}, "class": "{kind}"}}'
                      f', "geometry": {text}}}{comma}\n')
        out.write("]}\n")
    pyogrio.write_dataframe(__import__("geopandas").GeoDataFrame(
        {"id": np.arange(features), "class": classes}, geometry=polygons, crs=CRS),
        gpkg, driver="GPKG", layer="buildings")
    left = x0 + extent_m / 2 - tile_px * pixel / 2
    top = y0 - extent_m / 2 + tile_px * pixel / 2
    profile = {"driver": "GTiff", "width": tile_px, "height": tile_px, "count": 3,
               "dtype": "uint8", "crs": CRS, "transform": from_origin(left, top, pixel, pixel),
               "tiled": True, "compress": "deflate"}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.full((3, tile_px, tile_px), 120, np.uint8))
    return geojson, gpkg, tif


def cases(geojson: Path, gpkg: Path, tif: Path, out: Path) -> list[tuple[str, str, list[str]]]:
    """(format, implementation, command) for geotile and, when installed, gdal_rasterize."""
    import rasterio

    with rasterio.open(tif) as src:
        left, bottom, right, top = src.bounds
        width, height = src.width, src.height
    rows = []
    for kind, labels in (("GeoPackage", gpkg), ("GeoJSON", geojson)):
        rows.append((kind, "geotile make-masks",
                     [*GEOTILE, "make-masks", str(labels), str(tif), "-o",
                      str(out / f"geotile_{labels.suffix[1:]}.tif"), "--overwrite"]))
        if shutil.which("gdal_rasterize"):
            rows.append((kind, "gdal_rasterize",
                         ["gdal_rasterize", "-q", "-burn", "1", "-ot", "Byte", "-te", str(left),
                          str(bottom), str(right), str(top), "-ts", str(width), str(height),
                          "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE", str(labels),
                          str(out / f"gdal_{labels.suffix[1:]}.tif")]))
    return rows


def same_masks(out: Path) -> dict[str, bool]:
    """Whether geotile's mask equals gdal_rasterize's, per format."""
    import rasterio

    result = {}
    for suffix in ("gpkg", "geojson"):
        ours, theirs = out / f"geotile_{suffix}.tif", out / f"gdal_{suffix}.tif"
        if ours.exists() and theirs.exists():
            with rasterio.open(ours) as a, rasterio.open(theirs) as b:
                result[suffix] = bool(np.array_equal(a.read(1), b.read(1)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    args = parser.parse_args()
    compile_geotile()
    out = WORK / "out_city"
    out.mkdir(parents=True, exist_ok=True)
    geojson, gpkg, tif = make_inputs(args.features)
    rows = cases(geojson, gpkg, tif, out)
    times: dict[tuple[str, str], list[float]] = {}
    rss: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for kind, name, command in rows:
            seconds, peak = run_once(command)
            times.setdefault((kind, name), []).append(seconds)
            rss.setdefault((kind, name), []).append(peak)
            print(f"{kind}: {name} {seconds:.2f} s {peak:.0f} MB", flush=True)
    load = os.getloadavg()[0]
    equal = same_masks(out)
    size_mb = {p.suffix: p.stat().st_size / 2**20 for p in (geojson, gpkg)}
    lines = ["", f"## City-scale labels: {args.features:,} footprints, one 2000 px tile", "",
             f"Machine: {machine()}.", "",
             f"Labels: {args.features:,} rotated rectangles (4-16 m) over 30 x 30 km in "
             f"{CRS}, GeoJSON ({size_mb['.geojson']:.0f} MB) and GeoPackage with R-tree "
             f"({size_mb['.gpkg']:.0f} MB); tile 2000 x 2000 px at 0.3 m in the middle. "
             f"Medians of {args.repeat} alternating runs, each a fresh process; peak RSS is "
             f"the process's VmHWM. Load average at the end: {load:.1f} on "
             f"{os.cpu_count()} cores (other work was running: times are noisy, memory "
             "is not).", "",
             "| labels | implementation | median s | min-max s | peak RSS MB | geotile / this "
             "(time) | geotile / this (memory) |", "|---|---|---|---|---|---|---|"]
    for kind, name, _ in rows:
        ours = (kind, "geotile make-masks")
        median = statistics.median(times[(kind, name)])
        ratio_t = "" if name == ours[1] else \
            f"{statistics.median(times[ours]) / median:.2f}"
        ratio_m = "" if name == ours[1] else f"{max(rss[ours]) / max(rss[(kind, name)]):.2f}"
        lines.append(f"| {kind} | {name} | {median:.2f} | {min(times[(kind, name)]):.2f}-"
                     f"{max(times[(kind, name)]):.2f} | {max(rss[(kind, name)]):.0f} | "
                     f"{ratio_t} | {ratio_m} |")
    if equal:
        lines += ["", "Masks equal to gdal_rasterize's: " + ", ".join(
            f"{k}: {'yes' if v else 'NO'}" for k, v in equal.items()) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
