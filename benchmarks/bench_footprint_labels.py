"""Footprint datasets at scale: `python -m benchmarks.bench_footprint_labels [--features N]`.

Synthesises N small rectangles (default 2,000,000) in lon/lat over ~40 x 40 km as the
open footprint datasets ship them: Overture/VIDA-style GeoParquet (WKB geometry, a float32
``bbox`` struct column, spatially sorted row groups; with and without the GeoParquet 1.1
covering metadata), FlatGeobuf (with its index) and Microsoft-style gzipped GeoJSON lines
(.csv.gz, one Feature a line, properties height/confidence). Then times
`geotile make-masks` for one 5000 px tile (0.3 m) in the middle of each, and for a folder
of 20 tiles (1000 px) spread over the area, against gdal_rasterize -te/-tr on the same
grid (FlatGeobuf for the Parquet files: this GDAL reads no Parquet), each a fresh
process; peak RSS from /proc (VmHWM). Masks are compared with gdal_rasterize's (same rule:
pixel centres). Files live in ``--work`` (delete them after).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
from pathlib import Path

import numpy as np

from benchmarks.runner import GEOTILE, compile_geotile, run_once

LON0, LAT0 = -84.6, 33.95  # upper-left corner of the labels' area (Atlanta)
EXTENT_DEG = (0.43, 0.36)  # ~40 x 40 km
PIXEL_M = 0.3
M_PER_DEG = 111_320.0


def pixel_deg() -> tuple[float, float]:
    """(dx, dy) in degrees of a PIXEL_M pixel at the area's middle."""
    lat = LAT0 - EXTENT_DEG[1] / 2
    return PIXEL_M / (M_PER_DEG * np.cos(np.radians(lat))), PIXEL_M / M_PER_DEG


def polygons(features: int, seed: int = 0):
    """(polygons, bounds) of ``features`` rotated rectangles (4-16 m), sorted in cells of
    ~1 km as Overture's files are (row groups stay compact)."""
    import shapely

    rng = np.random.default_rng(seed)
    cx = LON0 + rng.uniform(0, EXTENT_DEG[0], features)
    cy = LAT0 - rng.uniform(0, EXTENT_DEG[1], features)
    cell = np.floor((LAT0 - cy) / 0.01) * 1000 + np.floor((cx - LON0) / 0.01)
    order = np.argsort(cell, kind="stable")
    cx, cy = cx[order], cy[order]
    half = rng.uniform(2, 8, (features, 2))
    angle = rng.uniform(0, np.pi / 2, features)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64)
    local = corners[None] * half[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    mx = local[:, :, 0] * cos - local[:, :, 1] * sin
    my = local[:, :, 0] * sin + local[:, :, 1] * cos
    xs = cx[:, None] + mx / (M_PER_DEG * np.cos(np.radians(cy[:, None])))
    ys = cy[:, None] + my / M_PER_DEG
    return shapely.polygons(np.round(np.stack([xs, ys], axis=-1), 7))


def make_labels(features: int, work: Path) -> dict[str, Path]:
    """The labels files (cached in ``work``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyogrio
    import shapely

    files = {"GeoParquet (covering)": work / f"fp_{features}_covering.parquet",
             "GeoParquet (bbox column only)": work / f"fp_{features}_bbox.parquet",
             "FlatGeobuf": work / f"fp_{features}.fgb",
             "GeoJSONSeq .csv.gz": work / f"fp_{features}.csv.gz"}
    if all(p.exists() for p in files.values()):
        return files
    work.mkdir(parents=True, exist_ok=True)
    shapes = polygons(features)
    bounds = shapely.bounds(shapes)
    rng = np.random.default_rng(1)
    height = np.round(rng.uniform(3, 30, features), 1)
    kind = np.where(rng.uniform(size=features) < 0.8, "house", "garage")
    bbox = pa.StructArray.from_arrays(
        [pa.array(bounds[:, i].astype(np.float32)) for i in (0, 2, 1, 3)],
        names=["xmin", "xmax", "ymin", "ymax"])
    table = pa.table({"id": pa.array([f"08b{i:013x}" for i in range(features)]),
                      "geometry": pa.array(shapely.to_wkb(shapes).tolist(), pa.binary()),
                      "bbox": bbox, "height": height, "class": kind})
    for name, covering in (("GeoParquet (covering)", True),
                           ("GeoParquet (bbox column only)", False)):
        column = {"encoding": "WKB", "geometry_types": ["Polygon"],
                  "bbox": [float(v) for v in (*bounds[:, :2].min(0), *bounds[:, 2:].max(0))]}
        if covering:
            column["covering"] = {"bbox": {k: ["bbox", k]
                                           for k in ("xmin", "ymin", "xmax", "ymax")}}
        geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
        pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo)}), files[name],
                       row_group_size=100_000, compression="zstd")
    import geopandas as gpd

    pyogrio.write_dataframe(gpd.GeoDataFrame({"height": height, "class": kind},
                                             geometry=shapes, crs="EPSG:4326"),
                            files["FlatGeobuf"], driver="FlatGeobuf")
    with gzip.open(files["GeoJSONSeq .csv.gz"], "wt", compresslevel=6) as out:
        for text, h in zip(shapely.to_geojson(shapes), height, strict=True):
            out.write(f'{{"type":"Feature","geometry":{text},'
                      f'"properties":{{"height":{h},"confidence":-1.0}}}}\n')
    return files


def make_tiles(work: Path) -> tuple[Path, Path]:
    """(one 5000 px tile in the middle, a folder of 20 1000 px tiles spread over the area),
    in EPSG:4326 at ~0.3 m so that gdal_rasterize (which does not reproject) burns the
    same grid."""
    import rasterio
    from rasterio.transform import from_origin

    dx, dy = pixel_deg()
    big = work / "tile5000.tif"
    folder = work / "tiles20"
    folder.mkdir(parents=True, exist_ok=True)
    specs = [(big, LON0 + EXTENT_DEG[0] / 2 - 2500 * dx, LAT0 - EXTENT_DEG[1] / 2 + 2500 * dy,
              5000)]
    for i in range(20):
        row, col = divmod(i, 5)
        specs.append((folder / f"t{i:02d}.tif", LON0 + (col + 0.3) * EXTENT_DEG[0] / 5,
                      LAT0 - (row + 0.3) * EXTENT_DEG[1] / 4, 1000))
    for path, left, top, size in specs:
        if path.exists():
            continue
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                           dtype="uint8", crs="EPSG:4326", tiled=True, compress="deflate",
                           transform=from_origin(left, top, dx, dy)) as dst:
            dst.write(np.full((1, size, size), 120, np.uint8))
    return big, folder


def gdal_command(labels: Path, tile: Path, out: Path) -> list[str]:
    import rasterio

    with rasterio.open(tile) as src:
        left, bottom, right, top = src.bounds
        width, height = src.width, src.height
    source = f"GeoJSONSeq:/vsigzip/{labels}" if labels.suffix == ".gz" else str(labels)
    return ["gdal_rasterize", "-q", "-burn", "1", "-ot", "Byte", "-te", repr(left),
            repr(bottom), repr(right), repr(top), "-ts", str(width), str(height),
            "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE", source, str(out)]


def equal(a: Path, b: Path) -> bool:
    import rasterio

    with rasterio.open(a) as x, rasterio.open(b) as y:
        return bool(np.array_equal(x.read(1), y.read(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/s145"))
    parser.add_argument("--only", default="", help="run only formats whose name has this")
    args = parser.parse_args()
    compile_geotile()
    files = make_labels(args.features, args.work)
    big, folder = make_tiles(args.work)
    out = args.work / "out"
    out.mkdir(exist_ok=True)
    rows = []
    for name, labels in files.items():
        if args.only.lower() not in name.lower():
            continue
        ours, peer = out / f"{labels.stem}_geotile.tif", out / f"{labels.stem}_gdal.tif"
        gdal_labels = files["FlatGeobuf"] if "Parquet" in name else labels
        runs = {"geotile 1 tile": [*GEOTILE, "make-masks", str(labels), str(big), "-o",
                                   str(ours), "--overwrite"],
                "gdal_rasterize 1 tile": gdal_command(gdal_labels, big, peer),
                "geotile 20 tiles": [*GEOTILE, "make-masks", str(labels), str(folder), "-o",
                                     str(out / f"{labels.stem}_20"), "--overwrite"]}
        if shutil.which("gdal_rasterize") is None:
            del runs["gdal_rasterize 1 tile"]
        for what, command in runs.items():
            measured = [run_once(command) for _ in range(args.repeat)]
            seconds = statistics.median(s for s, _ in measured)
            peak = max(m for _, m in measured)
            rows.append((name, what, seconds, peak))
            print(f"{name}: {what} {seconds:.2f} s {peak:.0f} MB", flush=True)
        if peer.exists():
            print(f"{name}: mask equal to gdal_rasterize's: {equal(ours, peer)}", flush=True)
    print("\n| labels | run | s | peak RSS MB |\n|---|---|---|---|")
    for name, what, seconds, peak in rows:
        print(f"| {name} | {what} | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
