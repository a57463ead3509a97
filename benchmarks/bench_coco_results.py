"""evaluate of a COCO results file: `python -m benchmarks.bench_coco_results [--images 500]`.

Synthesises, in a temporary folder, a COCO instances file (TRUTH) of ``--images`` images of
300 x 300 px, ~24 rotated-rectangle buildings each as COCO polygons (not pixel-aligned, as
CrowdAI's), a crowd region in every tenth image (and, with ``--truth-rle``, half the
buildings as RLE), and a results file of ~``--per-image`` compressed-RLE masks an image
(detectron2's coco_instances_results.json: jittered copies of the buildings, a few
duplicates and false positives; scores 0.05..1). Then times
``geotile.coco_results.evaluate_coco_results`` without and with --min-score 0.5, each in a
fresh process: wall seconds, CPU seconds (user + system) and peak RSS (VmHWM), medians of
``--runs``. With ``--check FILE`` the scores (as_dict) are written to FILE.json / compared
with it (every TP/FP/FN per image and per class, mean IoU to 1e-9). If pycocotools is
importable, COCOeval (segm) on the same files is timed as the peer (no dependency).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SIZE = 300
CATEGORIES = [{"id": 1, "name": "building"}, {"id": 2, "name": "shed"}]

#: run in a fresh process: seconds, CPU seconds, peak RSS of the evaluation alone
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from geotile.coco_results import evaluate_coco_results
min_score = {min_score!r}
start, cpu0 = time.perf_counter(), time.process_time()
result = evaluate_coco_results({results!r}, {truth!r}, min_score=min_score)
scores = result.as_dict()
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
with open('/proc/self/status') as f:
    peak = next(int(l.split()[1]) for l in f if l.startswith('VmHWM')) / 1024
print(json.dumps({{"seconds": seconds, "cpu": cpu, "rss_mb": peak, "scores": scores}}))
"""

PEER = r"""
import json, sys, time, resource
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
start, cpu0 = time.perf_counter(), time.process_time()
truth = COCO({truth!r})
results = truth.loadRes({results!r})
e = COCOeval(truth, results, "segm")
e.evaluate(); e.accumulate(); e.summarize()
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
with open('/proc/self/status') as f:
    peak = next(int(l.split()[1]) for l in f if l.startswith('VmHWM')) / 1024
print(json.dumps({{"seconds": seconds, "cpu": cpu, "rss_mb": peak}}))
"""


def _runs(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed counts: column-major, from a background run."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def _compressed(mask: np.ndarray) -> str:
    """COCO's compressed counts string (pycocotools' rleToString)."""
    runs, out = _runs(mask), []
    for i, value in enumerate(runs):
        x = value - runs[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def _rectangle(rng, cx, cy) -> np.ndarray:
    half = rng.uniform(4, 14, 2)
    angle = rng.uniform(0, np.pi / 2)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * half
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return corners @ rotation.T + (cx, cy)


def _mask(ring: np.ndarray) -> np.ndarray:
    from rasterio.features import rasterize

    polygon = {"type": "Polygon", "coordinates": [[*ring.tolist(), ring[0].tolist()]]}
    return rasterize([(polygon, 1)], out_shape=(SIZE, SIZE), dtype=np.uint8).astype(bool)


def synthesise(folder: Path, images: int, per_image: int, classes: int, truth_rle: bool,
               seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    entries, annotations, results = [], [], []
    for image in range(1, images + 1):
        entries.append({"id": image, "file_name": f"val/{image:06d}.jpg", "width": SIZE,
                        "height": SIZE})
        grid = rng.permutation(36)[:24]  # 24 buildings on a 6 x 6 grid of 50 px cells
        rings = []
        for cell in grid:
            cx, cy = 25 + 50 * (cell % 6) + rng.uniform(-6, 6), 25 + 50 * (cell // 6) + \
                rng.uniform(-6, 6)
            ring = _rectangle(rng, cx, cy)
            category = int(rng.integers(1, classes + 1))
            rings.append((ring, category))
            segmentation = [np.round(ring, 2).ravel().tolist()]
            if truth_rle and rng.random() < 0.5:
                mask = _mask(ring)
                if mask.any():
                    segmentation = {"size": [SIZE, SIZE], "counts": _runs(mask)}
            annotations.append({"image_id": image, "category_id": category, "iscrowd": 0,
                                "segmentation": segmentation})
        if image % 10 == 0:
            annotations.append({"image_id": image, "category_id": 1, "iscrowd": 1,
                                "segmentation": [[250, 250, 299, 250, 299, 299, 250, 299]]})
        count = 0
        while count < per_image:  # jittered copies of the buildings, and false positives
            ring, category = rings[int(rng.integers(len(rings)))]
            if rng.random() < 0.15:
                ring = _rectangle(rng, *rng.uniform(10, SIZE - 10, 2))
            ring = ring + rng.normal(0, 1.5, 2) + rng.normal(0, 0.7, ring.shape)
            mask = _mask(ring)
            if not mask.any():
                continue
            if rng.random() < 0.05:
                category = int(rng.integers(1, classes + 1))
            ys, xs = np.nonzero(mask)
            results.append({"image_id": image, "category_id": category,
                            "segmentation": {"size": [SIZE, SIZE],
                                             "counts": _compressed(mask)},
                            "score": round(float(rng.uniform(0.05, 1)), 5),
                            "bbox": [int(xs.min()), int(ys.min()),
                                     int(xs.max() - xs.min() + 1),
                                     int(ys.max() - ys.min() + 1)]})
            count += 1
    for i, a in enumerate(annotations):
        a["id"] = i + 1
        a["area"] = 1.0
        a["bbox"] = [0, 0, 1, 1]
    truth, predictions = folder / "annotation.json", folder / "results.json"
    truth.write_text(json.dumps({"images": entries, "annotations": annotations,
                                 "categories": CATEGORIES[:classes]}))
    predictions.write_text(json.dumps(results))
    return predictions, truth


def _child(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same(a: dict, b: dict, where: str = "") -> list[str]:
    """Where two as_dict()s differ: counts exactly, floats to 1e-9."""
    differences = []
    for key in sorted((set(a) | set(b)) - {"prediction"}):  # the temporary folder's path
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            differences += _same(x, y, f"{where}/{key}")
        elif isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-9:
                differences.append(f"{where}/{key}: {x!r} != {y!r}")
        elif x != y:
            differences.append(f"{where}/{key}: {x!r} != {y!r}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--per-image", type=int, default=96)
    parser.add_argument("--classes", type=int, default=1, choices=(1, 2))
    parser.add_argument("--truth-rle", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--check", type=Path, help="write scores to CHECK.json when absent, "
                        "else compare with them")
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as work:
        results, truth = synthesise(Path(work), args.images, args.per_image, args.classes,
                                    args.truth_rle)
        kind = "polygons + RLE" if args.truth_rle else "polygons"
        print(f"{args.images} images, {args.per_image * args.images} RLE results, "
              f"{args.classes} class(es), truth {kind}")
        scored = {}
        for min_score in (None, 0.5):
            runs = [_child(CHILD.format(root=root, results=str(results), truth=str(truth),
                                        min_score=min_score)) for _ in range(args.runs)]
            scored[str(min_score)] = runs[-1]["scores"]
            s = runs[-1]["scores"]
            print(f"geotile min_score={min_score}: "
                  f"{statistics.median(r['seconds'] for r in runs):.2f} s, "
                  f"CPU {statistics.median(r['cpu'] for r in runs):.2f} s, "
                  f"peak RSS {max(r['rss_mb'] for r in runs):.0f} MB  "
                  f"(TP {s['tp']} FP {s['fp']} FN {s['fn']} mean IoU {s['mean_iou']:.6f})")
        try:
            import pycocotools  # noqa: F401
        except ImportError:
            print("pycocotools: not importable, no peer timing")
        else:
            peer = _child(PEER.format(results=str(results), truth=str(truth)))
            print(f"pycocotools COCOeval segm: {peer['seconds']:.2f} s, CPU {peer['cpu']:.2f} s"
                  f", peak RSS {peer['rss_mb']:.0f} MB")
    if args.check:
        check = args.check.with_suffix(".json")
        if check.exists():
            differences = _same(json.loads(check.read_text()), scored)
            print(f"scores as {check}" if not differences else
                  f"{len(differences)} differences from {check}: " + "; ".join(
                      differences[:10]))
        else:
            check.write_text(json.dumps(scored))
            print(f"scores written to {check}")


if __name__ == "__main__":
    main()
