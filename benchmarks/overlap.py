"""What overlap and tile size cost against what they buy: `python -m benchmarks.overlap`.

For each tile size and overlap, `geotile predict` (timed, a fresh process) runs the model
over the held-out scene, `geotile vectorize` turns the probabilities into polygons (with
--instances when the model's bands are footprint/boundary/contact: automatic) and
`geotile evaluate` scores them: object F1 (SpaceNet metric, IoU > 0.5) against the
footprints, and pixel IoU of the probability raster against the mask `geotile make-masks`
burns from the same footprints. The table goes into RESULTS.md, section
"Overlap and tile size" (replaced on each run, the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.runner import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GEOTILE = [sys.executable, "-m", "geotile", "-q"]
SECTION = "## Overlap and tile size"


def geotile(*arguments: object) -> str:
    """Run one geotile command; its stdout (raises with geotile's one-line error)."""
    result = subprocess.run([*GEOTILE, *(str(a) for a in arguments)], capture_output=True,
                            text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"geotile {arguments[0]} failed: {result.stderr.strip()[-300:]}")
    return result.stdout


def windows_per_pixel(overlap: float) -> float:
    """How many windows predict each pixel, away from the edges: 1 / (1 - overlap)^2."""
    return 1 / (1 - overlap) ** 2


def measure(model: Path, image: Path, truth: Path, truth_mask: Path, size: int,
            overlap: float, work: Path, repeat: int, providers: str) -> dict:
    """Predict (median of ``repeat`` timed runs), vectorize and score one setting."""
    stem = f"t{size}_o{overlap:g}"
    probabilities, polygons = work / f"{stem}.tif", work / f"{stem}.gpkg"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        geotile("predict", model, image, "-o", probabilities, "--tile-size", size,
                "--overlap", overlap, "--providers", providers, "--overwrite")
        times.append(time.perf_counter() - started)
    geotile("vectorize", probabilities, "-o", polygons, "--overwrite")
    objects = json.loads(geotile("evaluate", polygons, truth, "--json"))
    pixels = json.loads(geotile("evaluate", probabilities, truth_mask, "--json"))
    foreground = [c for c in pixels["classes"] if c["class_id"] != 0]
    return {"size": size, "overlap": overlap, "seconds": statistics.median(times),
            "probabilities": probabilities,
            "f1": objects["f1"], "precision": objects["precision"],
            "recall": objects["recall"], "iou": foreground[0]["iou"] if foreground else 0.0,
            "predictions": objects["predictions"], "truths": objects["truths"]}


def compare(rows: list[dict]) -> None:
    """Add to each row how far its probabilities are from the first row's (the reference):
    the largest difference and the pixels whose class (p >= 0.5) changes."""
    import numpy as np
    import rasterio

    with rasterio.open(rows[0]["probabilities"]) as src:
        reference = src.read(1)
    for row in rows:
        with rasterio.open(row["probabilities"]) as src:
            values = src.read(1)
        row["max_diff"] = float(np.abs(values - reference).max())
        row["flipped"] = int(((values >= 0.5) != (reference >= 0.5)).sum())


def table(rows: list[dict]) -> list[str]:
    lines = ["| tile px | overlap | windows per pixel | predict s | object F1 | precision | "
             "recall | pixel IoU | polygons (truth) | max abs p diff vs first row | "
             "pixels flipped vs first row |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['overlap'] * 100:g} % | "
                     f"{windows_per_pixel(r['overlap']):.2f} | {r['seconds']:.2f} | "
                     f"{r['f1']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['iou']:.4f} | {r['predictions']} ({r['truths']}) | "
                     f"{r.get('max_diff', float('nan')):.3f} | {r.get('flipped', '')} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "examples/models/buildings_unet.onnx")
    parser.add_argument("--image", type=Path, default=ROOT / "examples/data/scene.tif")
    parser.add_argument("--truth", type=Path,
                        default=ROOT / "examples/data/scene_footprints.geojson")
    parser.add_argument("--sizes", default="256,512,1024", help="tile sizes, px")
    parser.add_argument("--overlaps", default="0.5,0.25,0.125", help="overlap fractions")
    parser.add_argument("--repeat", type=int, default=1, help="timed predict runs per setting")
    parser.add_argument("--providers", default="cpu", help="geotile predict --providers")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "overlap")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    from benchmarks.runner import compile_geotile

    compile_geotile()
    args.work.mkdir(parents=True, exist_ok=True)
    truth_mask = args.work / "truth_mask.tif"
    geotile("make-masks", args.truth, args.image, "-o", truth_mask, "--overwrite")
    rows = []
    load_before = os.getloadavg()[0]
    for size in (int(s) for s in args.sizes.split(",")):
        for overlap in (float(o) for o in args.overlaps.split(",")):
            row = measure(args.model, args.image, args.truth, truth_mask, size, overlap,
                          args.work, args.repeat, args.providers)
            rows.append(row)
            print(table([row])[-1], flush=True)
    compare(rows)
    pixels = rows[0]["probabilities"]
    with __import__("rasterio").open(pixels) as src:
        total = src.width * src.height
    lines = [SECTION, "",
             f"`python -m benchmarks.overlap`: {args.model.name} on {args.image.name} (held-out "
             f"scene), truth {args.truth.name}; predict --providers {args.providers}, default "
             f"blending; vectorize and evaluate with their defaults (object F1: IoU > 0.5). "
             f"Predict time is the median of {args.repeat} run(s), a fresh process each "
             f"(start-up included); {os.cpu_count()} cores, load average "
             f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after. The last two columns "
             f"compare each probability raster with the first row's ({total} pixels).", "",
             *table(rows), ""]
    write_section(args.output, lines, SECTION)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
