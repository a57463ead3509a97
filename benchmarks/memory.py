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
from benchmarks.__main__ import GEOTILE, compile_geotile, machine, run_once

HERE = Path(__file__).parent
TARGETS_MB = {"20000 x 20000, --tile-size 1024": 1500, "100000 x 4000, default tile": 1000}


def cases(smoke: bool) -> list[tuple[str, tuple[int, int], list[str]]]:
    if smoke:
        return [("smoke 3000 x 600", (3000, 600), ["--block-size", "1024"])]
    return [("20000 x 20000, --tile-size 1024", (20000, 20000), ["--tile-size", "1024"]),
            ("100000 x 4000, default tile", (100000, 4000), [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a small raster, for the tests")
    parser.add_argument("--output", type=Path, default=None,
                        help="append the results to this Markdown file")
    args = parser.parse_args()
    compile_geotile()
    out = inputs.WORK / "memory"
    out.mkdir(parents=True, exist_ok=True)
    model = models.tiny_convnet(out / "tiny.onnx")
    rows = ["| raster | options | seconds | MP/s | peak RSS MB | target MB |",
            "|---|---|---|---|---|---|"]
    load = os.getloadavg()[0]
    for name, (width, height), options in cases(args.smoke):
        image = inputs.blank(width, height)
        output = out / "predicted.tif"
        seconds, rss = run_once([*GEOTILE, "predict", str(model), str(image), "-o", str(output),
                                 "--providers", "cpu", "--overwrite", *options])
        output.unlink(missing_ok=True)
        target = TARGETS_MB.get(name, "")
        rows.append(f"| {name} | {' '.join(options) or '(defaults)'} | {seconds:.0f} | "
                    f"{width * height / 1e6 / seconds:.2f} | {rss:.0f} | {target} |")
        print(rows[-1], flush=True)
    text = "\n".join([f"Machine: {machine()}. Load average (1 min) before: {load:.1f}.", "",
                      *rows, ""])
    print(text)
    if args.output is not None:
        with args.output.open("a") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
