"""Run the whole geotile pipeline on the bundled example scene (what `make demo` runs).

make-masks -> tile -> predict -> vectorize (plain threshold, and --instances: the
marker watershed that splits touching buildings) -> evaluate, each through the
`geotile` command installed beside this Python, printing every command line as it
runs, then a preview PNG, where the outputs are, and the scores side by side.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENE = HERE / "data" / "scene.tif"
FOOTPRINTS = HERE / "data" / "scene_footprints.geojson"
MODEL = HERE / "models" / "buildings_unet.onnx"


def geotile_command() -> list[str]:
    """The `geotile` beside this Python, else the one on PATH, else `python -m geotile`."""
    beside = Path(sys.executable).with_name("geotile")
    if beside.exists():
        return [str(beside)]
    on_path = shutil.which("geotile")
    return [on_path] if on_path else [sys.executable, "-m", "geotile"]


def geotile(*args, show_output: bool = True) -> str:
    """Run one geotile command, echoing it (and its output); return its stdout."""
    print("$ " + shlex.join(["geotile", *map(str, args)]), flush=True)
    result = subprocess.run([*geotile_command(), *map(str, args)], capture_output=True,
                            text=True)
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
    # the masks a footprint/boundary/contact model learns from (band 1: the footprints)
    geotile("make-masks", FOOTPRINTS, SCENE, "-o", out / "mask.tif",
            "--channels", "footprint,boundary,contact", "--overwrite")
    geotile("tile", SCENE, "--masks", out / "mask.tif", "--size", 256, "--split", "0.8,0.1,0.1",
            "--seed", 1, "-o", out / "patches", "--overwrite")
    if not MODEL.exists():
        print(f"\nNo model at {MODEL}: train one with examples/train.py to run the rest.")
        return
    geotile("predict", MODEL, SCENE, "-o", out / "probabilities.tif", "--overwrite")
    # bands footprint/boundary/contact: vectorize splits touching buildings (--instances)
    # on its own; --no-instances is the plain threshold, for comparison
    geotile("vectorize", out / "probabilities.tif", "-o", out / "buildings.geojson",
            "--instances", "--min-area", 10,
            "--regularize", "--overwrite")
    geotile("vectorize", out / "probabilities.tif", "-o", out / "buildings_plain.geojson",
            "--no-instances", "--min-area", 10, "--regularize", "--overwrite")
    scores = {name: json.loads(geotile("evaluate", out / f"{name}.geojson", FOOTPRINTS,
                                       "--json", show_output=False))
              for name in ("buildings_plain", "buildings")}
    # pixel IoU of the buildings found: burn them on the scene's grid, compare with the truth
    geotile("make-masks", out / "buildings.geojson", SCENE, "-o", out / "found.tif",
            "--overwrite")
    pixels = json.loads(geotile("evaluate", out / "found.tif", out / "mask.tif", "--json",
                                show_output=False))
    geotile("evaluate", out / "buildings.geojson", FOOTPRINTS, "--image", SCENE,
            "--report", out / "preview.png", "--overwrite")
    building = pixels["classes"][-1]
    print(f"\nOutputs in {out}/: mask.tif, patches/ (index.csv), probabilities.tif "
          "(footprint, boundary, contact), buildings.geojson (--instances), "
          "buildings_plain.geojson, found.tif, preview.png")
    print(f"Object F1 (SpaceNet, IoU > 0.5) on {scores['buildings']['truths']} true buildings:")
    for label, name in (("plain threshold", "buildings_plain"),
                        ("--instances (watershed)", "buildings")):
        s = scores[name]
        print(f"  {label:<24} F1 {s['f1']:.3f}  (precision {s['precision']:.3f}, "
              f"recall {s['recall']:.3f}, {s['predictions']} polygons)")
    print(f"Pixel IoU (building): {building['iou']:.3f}")


if __name__ == "__main__":
    main()
