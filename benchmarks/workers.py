"""Throughput of `--workers N` (a local dask cluster): `python -m benchmarks.workers`.

A small city (8 adjacent orthotiles cut from the benchmark scene) goes through
`geotile predict` (the bundled model) and `geotile make-masks`, single-process and with
--workers 1, 2 and 4; every run is a fresh process, runs alternate between worker counts
and the table reports medians, the speed-up over the single-process run and peak memory
(of the largest process, and summed over the process tree). Each worker count's outputs
are compared byte for byte with the single-process run's. The section "Dask workers
(issue 15)" of RESULTS.md is replaced on each run; the rest of the file is kept.
"""

from __future__ import annotations

import argparse
import filecmp
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import inputs
from benchmarks.__main__ import Case
from benchmarks.runner import (
    GEOTILE,
    HERE,
    compile_geotile,
    load,
    machine,
    run_tree,
    write_section,
)

ROOT = HERE.parent
MODEL = ROOT / "examples/models/buildings_unet.onnx"
SECTION = "## Dask workers (issue 15)"
WORKERS = (None, 1, 2, 4)  # None: no dask, one process
SMOKE_WORKERS = (None, 2)


@dataclass
class WorkerCase(Case):
    """One stage at one worker count; ``tree_rss``: summed peaks of its processes, MB."""

    workers: int | None = None
    tree_rss: list[float] = field(default_factory=list)


def city(smoke: bool) -> tuple[list[Path], Path, int]:
    """(8 adjacent tiles, their footprints, tile size in px) cut from a benchmark scene."""
    size, buildings = (1024, 300) if smoke else (6000, 10_000)
    tif, labels, _ = inputs.scene(size, buildings)
    return inputs.tiles(tif, 4)[:8], labels, size // 4


def label(workers: int | None) -> str:
    return "single process" if workers is None else f"--workers {workers}"


def make_cases(tiles: list[Path], labels: Path, tile_px: int, out: Path,
               counts: tuple = WORKERS) -> list[WorkerCase]:
    """predict and make-masks over ``tiles`` at each worker count of ``counts`` (None: no
    dask), each into its own folder."""
    mp = len(tiles) * tile_px * tile_px / 1e6
    cases = []
    for stage, head in (("predict", ["predict", MODEL]), ("make-masks", ["make-masks", labels])):
        for workers in counts:
            folder = out / f"{stage}_{workers or 0}"
            option = [] if workers is None else ["--workers", workers]
            command = [*GEOTILE, *head, *tiles, "-o", folder, "--overwrite", *option]
            cases.append(WorkerCase(stage, label(workers), [str(c) for c in command], mp,
                                    geotile=workers is None, fresh_dir=folder, workers=workers))
    return cases


def run(cases: list[WorkerCase], repeat: int) -> None:
    """Every case once per round, alternating; a fresh, empty output folder each run."""
    for round_number in range(repeat):
        for case in cases:
            for stale in case.fresh_dir.glob("*") if case.fresh_dir.exists() else ():
                stale.unlink()
            case.fresh_dir.mkdir(parents=True, exist_ok=True)
            seconds, peaks = run_tree(case.command)
            case.times.append(seconds)
            case.rss.append(max(peaks.values(), default=0) / 1024)
            case.tree_rss.append(sum(peaks.values()) / 1024)
            print(f"[{round_number + 1}/{repeat}] {case.stage} {case.name}: {seconds:.2f} s, "
                  f"{case.rss[-1]:.0f} MB largest, {case.tree_rss[-1]:.0f} MB tree", flush=True)


def same_outputs(case: WorkerCase, reference: WorkerCase) -> str:
    """'identical (N files)' when ``case`` wrote the same files, byte for byte, as
    ``reference``; else what differs."""
    names = sorted(p.name for p in reference.fresh_dir.iterdir())
    ours = sorted(p.name for p in case.fresh_dir.iterdir())
    if ours != names:
        return f"different files: {sorted(set(ours) ^ set(names))}"
    _, differ, errors = filecmp.cmpfiles(reference.fresh_dir, case.fresh_dir, names,
                                         shallow=False)
    return f"identical ({len(names)} files)" if not differ + errors else \
        f"{len(differ + errors)} of {len(names)} files differ: {differ + errors}"


def table(cases: list[WorkerCase]) -> list[str]:
    lines = ["| stage | run | median s | min-max s | throughput | speed-up | largest process "
             "peak RSS MB | process tree peak RSS MB | outputs vs single process |",
             "|---|---|---|---|---|---|---|---|---|"]
    for stage in dict.fromkeys(c.stage for c in cases):
        group = [c for c in cases if c.stage == stage]
        single = next(c for c in group if c.workers is None)
        for case in group:
            median = statistics.median(case.times)
            check = "(reference)" if case is single else same_outputs(case, single)
            lines.append(f"| {stage} | {case.name} | {median:.2f} | {min(case.times):.2f}-"
                         f"{max(case.times):.2f} | {case.units / median:.2f} MP/s | "
                         f"{statistics.median(single.times) / median:.2f}x | {max(case.rss):.0f}"
                         f" | {max(case.tree_rss):.0f} | {check} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="256 px tiles, one repetition, single process and --workers 2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    compile_geotile()
    repeat = 1 if args.smoke else args.repeat
    tiles, labels, tile_px = city(args.smoke)
    folder = inputs.WORK / ("workers_smoke" if args.smoke else "workers")
    cases = make_cases(tiles, labels, tile_px, folder, SMOKE_WORKERS if args.smoke else WORKERS)
    load_before = load()
    run(cases, repeat)
    # a smoke run gets its own heading: the measured section is kept
    lines = [SECTION + (" (smoke run)" if args.smoke else ""), "",
             f"`python -m benchmarks.workers{' --smoke' if args.smoke else ''}`: {len(tiles)} "
             f"adjacent {tile_px} px orthotiles (RGB uint8); `geotile predict "
             f"{MODEL.name} TILES -o FOLDER` with the model's defaults, and `geotile make-masks "
             f"FOOTPRINTS TILES -o FOLDER` ({labels.name}). Medians of {repeat} alternating "
             "runs, each a fresh process (start-up, and the local cluster's, included); "
             "speed-up is the single-process median over this one. Largest process: the peak "
             "RSS of the biggest process; process tree: each process's peak, summed (main "
             "process, dask's worker processes and helpers).", "",
             f"Machine: {machine()}. Load average (1 min): {load_before} before, {load()} "
             "after.", "", *table(cases), ""]
    write_section(args.output, lines, lines[0])
    print("\n".join(table(cases)))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
