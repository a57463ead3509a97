"""Peak memory of predict on rasters too large for a row band: `python -m benchmarks.memory`.

Issue 15's targets: 20000 x 20000 at --tile-size 1024 under 1.5 GB; 100,000 x 4,000 at the
default tile size under 1 GB. Each case runs in a fresh process (the tiny convnet, CPU);
peak RSS is the process's own high-water mark. ``--block-size`` values show that memory
follows the strip width, not the raster's.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmarks import inputs, models
from benchmarks.runner import GEOTILE, compile_geotile, machine, run_once

HERE = Path(__file__).parent
TARGETS_MB = {"predict 20000 x 20000, --tile-size 1024": 1500,
              "predict 100000 x 4000, default tile": 1000}
COMMANDS = ("predict", "make-masks", "vectorize")


def wide_labels(width: int, height: int) -> Path:
    """6 m squares every 30 m over a ``blank`` raster's extent (0.3 m pixels), every other
    one touching a neighbour (contact pixels): GeoJSON in the work folder."""
    import json

    path = inputs.WORK / f"squares_{width}x{height}.geojson"
    if path.exists():
        return path
    x0, y0 = 500000, 3700000  # blank()'s origin
    features = []
    for x in range(0, int(width * 0.3) - 30, 30):
        for y in range(0, int(height * 0.3) - 30, 30):
            for dx in (0, 6) if (x // 30) % 2 else (0,):
                left, top = x0 + x + 3 + dx, y0 - y - 3
                ring = [[left, top], [left + 6, top], [left + 6, top - 6], [left, top - 6],
                        [left, top]]
                features.append({"type": "Feature", "properties": {},
                                 "geometry": {"type": "Polygon", "coordinates": [ring]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32616"}}}))
    return path


def cases(smoke: bool, out: Path, model: Path) -> list[tuple[str, str, tuple[int, int], list]]:
    """(command, name, raster size, arguments) of each measurement."""
    wide = (3000, 600) if smoke else (100000, 4000)
    image = inputs.blank(*wide)
    labels, mask = wide_labels(*wide), out / "mask.tif"
    masks = ["make-masks", labels, image, "-o", mask, "--channels",
             "footprint,boundary,contact", "--overwrite"]
    shape = "x".join(map(str, wide)).replace("x", " x ")
    predict = [("predict", f"predict {shape}, default tile", wide, [])]
    if not smoke:
        predict.insert(0, ("predict", "predict 20000 x 20000, --tile-size 1024",
                           (20000, 20000), ["--tile-size", "1024"]))
    return [*[(c, n, size, ["predict", model, inputs.blank(*size), "-o", out / "p.tif",
                            "--providers", "cpu", "--overwrite", *extra])
              for c, n, size, extra in predict],
            ("make-masks", f"make-masks {shape}, footprint/boundary/contact", wide, masks),
            ("vectorize", f"vectorize {shape} (its mask, footprints)", wide,
             ["vectorize", mask, "-o", out / "v.gpkg", "--no-instances", "--overwrite"]),
            ("vectorize", f"vectorize {shape} (its mask, instances)", wide,
             ["vectorize", mask, "-o", out / "v.gpkg", "--instances", "--overwrite"])]


def _options(arguments: list) -> str:
    """The options shown for a case: each --option with its value, less the bookkeeping."""
    words = [str(a) for a in arguments]
    shown = []
    for i, word in enumerate(words):
        if word.startswith("--") and word not in ("--overwrite", "--providers"):
            value = words[i + 1] if i + 1 < len(words) else ""
            shown.append(word if value.startswith("--") or not value else f"{word} {value}")
    return " ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small rasters, for the tests")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="which to measure, e.g. make-masks,vectorize")
    parser.add_argument("--output", type=Path, default=None,
                        help="append the results to this Markdown file")
    args = parser.parse_args()
    compile_geotile()
    # the smoke run (in the tests) never replaces the real run's inputs
    out = inputs.WORK / ("memory-smoke" if args.smoke else "memory")
    out.mkdir(parents=True, exist_ok=True)
    model = models.tiny_convnet(out / "tiny.onnx")
    wanted = args.commands.split(",")
    rows = ["| command and raster | options | seconds | MP/s | peak RSS MB | target MB |",
            "|---|---|---|---|---|---|"]
    load = os.getloadavg()[0]
    for command, name, (width, height), arguments in cases(args.smoke, out, model):
        if command not in wanted:
            continue
        if command == "vectorize" and not (out / "mask.tif").exists():
            continue  # its input is make-masks' output
        seconds, rss = run_once([*GEOTILE, *map(str, arguments)])
        options = _options(arguments)
        rows.append(f"| {name} | {options or '(defaults)'} | {seconds:.0f} | "
                    f"{width * height / 1e6 / seconds:.2f} | {rss:.0f} | "
                    f"{TARGETS_MB.get(name, '')} |")
        print(rows[-1], flush=True)
    (out / "p.tif").unlink(missing_ok=True)
    text = "\n".join([f"Machine: {machine()}. Load average (1 min) before: {load:.1f}.", "",
                      *rows, ""])
    print(text)
    if args.output is not None:
        with args.output.open("a") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
