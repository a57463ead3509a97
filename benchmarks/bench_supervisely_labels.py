"""Supervisely labels against the same polygons as COCO:
`python -m benchmarks.bench_supervisely_labels [--images N] [--polygons P] [--repeat R]`.

Synthesises in a temporary folder N images (512 x 512 PNG, default 2000) and P random
polygons on each (default 50, of 3..15 whole-pixel vertices, radius 3..40 px, some crossing
the image's edge), written as a Supervisely project (meta.json, ds0/img, ds0/ann) and as
one COCO file of the same polygons, then times `geotile make-masks` of each (a fresh
process per run, the runs alternating, this checkout's geotile) and prints the median
seconds, CPU seconds, the peak RSS and the ratio of Supervisely's median to COCO's (the
CPU seconds' too: steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import warnings
from pathlib import Path

import numpy as np

from benchmarks.runner import GEOTILE, HERE, run_measured

SIZE = 512
CLASSES = ("building", "tree", "water")


def make_inputs(root: Path, images: int, polygons: int, seed: int = 129) -> tuple[Path, Path,
                                                                                    Path]:
    """(Supervisely project, COCO file, image folder) of the same polygons under ``root``."""
    import rasterio

    rng = np.random.default_rng(seed)
    project, img = root / "sv", root / "sv" / "ds0" / "img"
    ann = project / "ds0" / "ann"
    ann.mkdir(parents=True)
    img.mkdir(parents=True)
    (project / "meta.json").write_text(json.dumps({"classes": [
        {"title": t, "shape": "polygon", "color": "#FF0000"} for t in CLASSES], "tags": [],
        "projectType": "images"}))
    coco = {"images": [], "annotations": [], "categories": [
        {"id": i + 1, "name": t} for i, t in enumerate(CLASSES)]}
    pixels = np.full((3, SIZE, SIZE), 90, np.uint8)
    for i in range(images):
        name = f"im{i:05d}.png"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a PNG has no georeference
            with rasterio.open(img / name, "w", driver="PNG", width=SIZE, height=SIZE,
                               count=3, dtype="uint8") as dst:
                dst.write(pixels)
        coco["images"].append({"id": i + 1, "file_name": name, "width": SIZE,
                               "height": SIZE})
        objects = []
        for k in range(polygons):
            n = int(rng.integers(3, 16))
            t = np.sort(rng.uniform(0, 2 * np.pi, n))
            centre = rng.uniform(-10, SIZE + 10, 2)
            ring = np.round(centre + rng.uniform(3, 40, (n, 1)) * np.c_[np.cos(t),
                                                                          np.sin(t)])
            c = int(rng.integers(len(CLASSES)))
            objects.append({"id": k, "classTitle": CLASSES[c], "geometryType": "polygon",
                            "tags": [], "points": {"exterior": ring.astype(int).tolist(),
                                                   "interior": []}})
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": i + 1, "category_id": c + 1,
                "iscrowd": 0, "segmentation": [ring.ravel().tolist()]})
        (ann / f"{name}.json").write_text(json.dumps(
            {"description": "", "tags": [], "size": {"height": SIZE, "width": SIZE},
             "objects": objects}))
    (root / "coco.json").write_text(json.dumps(coco))
    return project, root / "coco.json", img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--polygons", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--extra", nargs="*", default=[],
                        help="more make-masks options, e.g. --extra=--all-touched")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(  # this checkout's geotile in the runs
        [str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    root = Path(tempfile.mkdtemp(prefix="bench_supervisely_"))
    try:
        project, coco, img = make_inputs(root, args.images, args.polygons)
        runs: dict[str, list[tuple[float, float, float]]] = {"supervisely": [], "coco": []}
        for _ in range(args.repeat):
            for name, labels in (("supervisely", project), ("coco", coco)):
                out = root / f"masks_{name}"
                shutil.rmtree(out, ignore_errors=True)
                runs[name].append(run_measured([*GEOTILE, "make-masks", str(labels), str(img),
                                            "-o", f"{out}/", *args.extra]))
        medians = {name: statistics.median(s for s, _, _ in r) for name, r in runs.items()}
        cpu = {name: statistics.median(c for _, _, c in r) for name, r in runs.items()}
        print(f"{args.images} images x {args.polygons} polygons {' '.join(args.extra)}")
        for name, r in runs.items():
            print(f"{name:12s} median {medians[name]:7.2f} s  (runs "
                  f"{', '.join(f'{s:.2f}' for s, _, _ in r)})  CPU {cpu[name]:.2f} s  peak "
                  f"{max(m for _, m, _ in r):.0f} MiB")
        print(f"ratio supervisely / coco: {medians['supervisely'] / medians['coco']:.2f} "
              f"(CPU {cpu['supervisely'] / cpu['coco']:.2f})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
