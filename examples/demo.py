"""Run the whole geotile pipeline on the bundled example scene (what `make demo` runs).

make-masks -> tile -> predict -> vectorize -> evaluate, each through the `geotile`
command installed beside this Python, printing every command line as it runs,
then a preview PNG, where the outputs are, and the scores.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENE = HERE / "data" / "scene.tif"
FOOTPRINTS = HERE / "data" / "scene_footprints.geojson"
MODEL = HERE / "models" / "buildings_unet.onnx"


def geotile(*args, show_output: bool = True) -> str:
    """Run one geotile command, echoing it (and its output); return its stdout."""
    command = [str(Path(sys.executable).with_name("geotile")), *map(str, args)]
    print("$ " + shlex.join(["geotile", *map(str, args)]), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    if result.returncode != 0:
        sys.exit(f"demo stopped: geotile {args[0]} failed (exit {result.returncode})")
    if show_output and result.stdout.strip():
        print("  " + result.stdout.strip().replace("\n", "\n  "))
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    geotile("make-masks", FOOTPRINTS, SCENE, "-o", out / "mask.tif", "--overwrite")
    geotile("tile", SCENE, "--masks", out / "mask.tif", "--size", 256, "--split", "0.8,0.1,0.1",
            "--seed", 1, "-o", out / "patches", "--overwrite")
    if not MODEL.exists():
        print(f"\nNo model at {MODEL}: train one with examples/train.py to run the rest.")
        return
    geotile("predict", MODEL, SCENE, "-o", out / "probabilities.tif", "--overwrite")
    geotile("predict", MODEL, SCENE, "-o", out / "classes.tif", "--output-type", "class",
            "--overwrite")
    geotile("vectorize", out / "probabilities.tif", "-o", out / "buildings.geojson",
            "--min-area", 10, "--regularize", "--overwrite")
    objects = json.loads(geotile("evaluate", out / "buildings.geojson", FOOTPRINTS, "--json",
                                 show_output=False))
    pixels = json.loads(geotile("evaluate", out / "classes.tif", out / "mask.tif", "--json",
                                show_output=False))
    geotile("evaluate", out / "buildings.geojson", FOOTPRINTS, "--image", SCENE,
            "--report", out / "preview.png", "--overwrite")
    building = pixels["classes"][-1]
    print(f"\nOutputs in {out}/: mask.tif, patches/ (index.csv), probabilities.tif, "
          "classes.tif, buildings.geojson, preview.png")
    print(f"Object F1 (SpaceNet, IoU > 0.5): {objects['f1']:.3f}  "
          f"(precision {objects['precision']:.3f}, recall {objects['recall']:.3f})")
    print(f"Pixel IoU (building): {building['iou']:.3f}")


if __name__ == "__main__":
    main()
