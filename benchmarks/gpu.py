"""GPU predict against the bare ONNX Runtime loop: `python -m benchmarks --gpu [--smoke]`.

Cases: the tiny convnet and the ResNet18 U-Net on a 6000 px orthotile, on each GPU
provider that loads (TensorRT, CUDA), fp32 and fp16; then the U-Net on a 20000 px
orthotile. geotile predict runs as a user runs it; the bare loop runs the same number of
256 px windows in batches of the same size, with the same provider settings (TensorRT:
engine and timing caches on disk, fp16 when asked), on random inputs: no reading,
blending or writing.

Each case runs once untimed first: TensorRT builds its engines into the caches there, so
the timed runs measure the start-up a second run pays (reported apart). Then runs
alternate. Reported per case: wall time (start-up included), time in the run (geotile's
``--json`` seconds, the loop's own timer), start-up (their difference), megapixels per
second in the run, km^2 per hour at 0.3 m, NVML busy % and memory; and for geotile the
busy time of each stage (decode, normalise, model, blend, encode).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import inputs, models
from benchmarks.runner import GEOTILE, PY, GpuMonitor, add_run, machine, run_tree
from geotile.stage_clock import PREDICT_STAGES

#: km^2 an hour per MP/s at 0.3 m pixels (0.09 m^2 a pixel)
KM2_PER_HOUR = 0.3**2 * 3600
TILE, OVERLAP = 256, 128
#: what issue 16 asks of geotile against the bare loop, and end to end
TARGET_RATIO, TARGET_MPS = 0.9, 30.0


@dataclass
class GpuCase:
    """One implementation of one case."""

    stage: str
    name: str
    command: list[str]
    megapixels: float
    geotile: bool = False
    first: float = 0.0  # the untimed first run's wall time
    wall: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    gpu_mb: list[float] = field(default_factory=list)
    big: bool = False  # the large orthotile: timed once, with no untimed run before
    failed: str = ""  # why a run failed (the other cases still run)


def default_batch(provider: str) -> int:
    """geotile's own batch of 256 px windows on ``provider`` (what a user gets without
    --batch-size), which the bare loop then runs too."""
    from geotile.predict import CPU_BATCH_PIXELS, GPU_BATCH_PIXELS

    budget = CPU_BATCH_PIXELS if provider == "cpu" else GPU_BATCH_PIXELS
    return max(1, min(64, budget // (TILE * TILE)))


def make_cases(size: int, big: int, batch: int | None, providers: list[str], out: Path,
               precisions=("fp32", "fp16")) -> list[GpuCase]:
    """Each model x provider x precision on a ``size`` px orthotile; the U-Net at another
    --batch-size beside the default batch (whether it pays); then the U-Net
    on a ``big`` px orthotile, in the last precision on the first provider. ``batch``: None
    for geotile's default (no --batch-size, as users run it)."""
    from geotile.model_file import float16_copy

    tiny, unet = models.tiny_convnet(out / "tiny.onnx"), models.resnet18_unet(out / "r18.onnx")[0]
    plan = [(label, model, size, provider, precision, batch)
            for label, model in (("tiny convnet", tiny), ("ResNet18 U-Net", unet))
            for provider in providers for precision in precisions]
    if batch is None and providers[0] != "cpu":  # another batch size beside the default
        other = 64 if default_batch(providers[0]) != 64 else 16
        plan.append(("ResNet18 U-Net", unet, size, providers[0], precisions[-1], other))
    plan.append(("ResNet18 U-Net", unet, big, providers[0], precisions[-1], batch))
    cases = []
    for label, model, pixels, provider, precision, per_batch in plan:
        shown = f", batch {per_batch}" if per_batch is not None and batch is None else ""
        stage = f"{label}, {pixels} px, {provider}, {precision}{shown}"
        image, megapixels = inputs.blank(pixels), pixels * pixels / 1e6
        fp16 = ["--fp16"] if precision == "fp16" else []
        chosen = ["--batch-size", per_batch] if per_batch is not None else []
        floor = float16_copy(model) if precision == "fp16" else model
        cases += [
            GpuCase(stage, "geotile predict",
                    [*GEOTILE, "predict", model, image, "-o", out / "gpu.tif", "--tile-size",
                     TILE, "--overlap", OVERLAP, *chosen, "--providers", provider,
                     *fp16, "--overwrite", "--json"], megapixels, geotile=True,
                    big=pixels == big),
            GpuCase(stage, f"bare ONNX Runtime loop ({provider})",
                    [PY, "-m", "benchmarks.peers", "bare_ort", floor, pixels, pixels, TILE,
                     OVERLAP, per_batch or default_batch(provider), provider, precision],
                    megapixels, big=pixels == big),
        ]
    for case in cases:
        case.command = [str(c) for c in case.command]
    return cases


def _inner(text: str) -> tuple[float, dict]:
    """(seconds in the run, geotile's stage seconds or {}) from a run's standard output."""
    report = json.loads(text)
    if isinstance(report, list):  # geotile --json: one summary per image
        return report[0]["seconds"], report[0].get("stage_seconds", {})
    return report["seconds"], {}


def _timed(case: GpuCase, monitor: GpuMonitor | None, stdout: Path) -> float | None:
    """One run's wall seconds, or None when it failed (recorded in ``case.failed``)."""
    try:
        return run_tree(case.command, monitor, stdout)[0]
    except RuntimeError as exc:
        case.failed = str(exc)
        print(f"FAILED {case.stage}: {case.name}: {exc}", flush=True)
        return None


def run(cases: list[GpuCase], repeat: int, monitor: GpuMonitor | None,
        report: Callable[[], None] = lambda: None) -> None:
    """The untimed runs, then ``repeat`` alternating rounds (the large orthotile's cases
    once, in the last); ``report()`` after each round, so that a run cut short still
    leaves its figures. A failing case is reported and left out; the others go on."""
    with tempfile.TemporaryDirectory() as folder:
        stdout = Path(folder) / "stdout.json"
        for case in cases:  # untimed: TensorRT fills its engine cache
            if case.big and case.stage.split(", ")[2] != "tensorrt":
                continue
            case.first = _timed(case, monitor, stdout) or 0.0
            print(f"[first] {case.stage}: {case.name} {case.first:.2f} s", flush=True)
        for round_number in range(repeat):
            last = round_number == repeat - 1
            for case in cases:
                if case.failed or (case.big and not last):
                    continue
                seconds = _timed(case, monitor, stdout)
                if seconds is None:
                    continue
                inner, stages = _inner(stdout.read_text())
                case.wall.append(seconds)
                case.inner.append(inner)
                case.stages.append(stages)
                if monitor is not None:
                    case.busy.append(sum(monitor.busy) / len(monitor.busy) if monitor.busy
                                     else 0.0)
                    case.gpu_mb.append(monitor.used_mb)
                print(f"[{round_number + 1}/{repeat}] {case.stage}: {case.name} {seconds:.2f} s"
                      f" ({inner:.2f} s in the run)", flush=True)
            report()


def tables(cases: list[GpuCase]) -> list[str]:
    """The throughput table, the stage table and the targets, as Markdown lines."""
    lines = ["| case | implementation | first run s | median s | in the run s | start-up s | "
             "MP/s in the run | km^2/h at 0.3 m | geotile / loop, throughput | GPU busy % | "
             "GPU MB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    verdicts, stage_lines = [], []
    for stage in dict.fromkeys(c.stage for c in cases):
        group = [c for c in cases if c.stage == stage]
        if any(c.failed or not c.inner for c in group):
            verdicts.append(f"- {stage}: not measured ("
                            + "; ".join(f"{c.name}: {c.failed or 'not run'}" for c in group)
                            + ")")
            continue
        ours = next(c for c in group if c.geotile)
        floor = next(c for c in group if not c.geotile)
        ratio = statistics.median(floor.inner) / statistics.median(ours.inner)
        for case in group:
            wall, inner = statistics.median(case.wall), statistics.median(case.inner)
            rate = case.megapixels / inner
            busy = f"{statistics.median(case.busy):.0f}" if case.busy else "-"
            memory = f"{max(case.gpu_mb):.0f}" if case.gpu_mb else "-"
            first = f"{case.first:.2f}" if case.first else "-"
            lines.append(f"| {stage} | {case.name} | {first} | {wall:.2f} | "
                         f"{inner:.2f} | {wall - inner:.2f} | {rate:.1f} | "
                         f"{rate * KM2_PER_HOUR:.0f} | {f'{ratio:.2f}' if case is ours else ''}"
                         f" | {busy} | {memory} |")
        rate = ours.megapixels / statistics.median(ours.inner)
        verdicts.append(f"- {stage}: {ratio:.2f}x the loop's throughput (target >= "
                        f"{TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}), "
                        f"{rate:.1f} MP/s (target >= {TARGET_MPS:g}: "
                        f"{'met' if rate >= TARGET_MPS else 'NOT met'})")
        seconds = {k: statistics.median(s[k] for s in ours.stages) for k in PREDICT_STAGES}
        inner = statistics.median(ours.inner)
        stage_lines.append(f"| {stage} | {inner:.2f} | " + " | ".join(
            f"{v:.2f}" for v in seconds.values()) + f" | {seconds.get('model', 0) / inner:.0%} |")
    names = PREDICT_STAGES
    return [*lines, "", "Where geotile's time goes (busy seconds per stage, medians; stages "
            "run in overlapping threads, so they add up to more than the run):", "",
            "| case | in the run s | " + " | ".join(names) + " | model / run |",
            "|---|---|" + "---|" * (len(names) + 1), *stage_lines, "", "Targets (issue 16):", "",
            *verdicts]


def main(args, out: Path) -> None:
    """``args``: smoke, repeat, batch_size, output, providers (None: the GPU ones); ``out``:
    the work folder (models, outputs)."""
    from geotile.providers import usable_providers

    providers = args.providers.split(",") if args.providers else \
        [p for p in ("tensorrt", "cuda") if p in usable_providers()]
    if not providers:
        raise SystemExit("--gpu: no usable CUDA or TensorRT provider on this machine "
                         "(see geotile -v predict)")
    on_gpu = any(p != "cpu" for p in providers)
    monitor = GpuMonitor() if on_gpu else None
    size, big = (512, 768) if args.smoke else (6000, 20000)
    precisions = ("fp32", "fp16") if on_gpu else ("fp32",)
    cases = make_cases(size, big, args.batch_size, providers, out, precisions)
    repeat = 1 if args.smoke else args.repeat
    gpu = f"; GPU {monitor.name}" if monitor is not None else "; no GPU (providers: cpu)"
    batches = (f"batches of {args.batch_size}" if args.batch_size else
               f"geotile's default batch ({default_batch(providers[0])} windows; the loop "
               "runs the same) unless a case names one")

    started = time.strftime("%Y-%m-%d %H:%M")

    def report() -> None:
        lines = [f"## Run of {started}{' (smoke run)' if args.smoke else ''}", "",
                 f"Machine: {machine()}{gpu}.", "",
                 f"Medians of {repeat} alternating runs after one untimed run of each case "
                 f"({big} px: one run, no untimed one except on TensorRT), each a fresh "
                 f"process; {batches}, windows of {TILE} px with {OVERLAP} px overlap. "
                 "`in the run`: geotile's own `--json` seconds (reading, inference, "
                 "blending, writing; not imports and the session) and the loop's own timer; "
                 "`start-up` is the rest of the wall time. GPU busy % is the mean of NVML "
                 "utilisation samples over the process; GPU MB the peak device memory in "
                 "use.", "", *tables(cases), ""]
        add_run(args.output, "# geotile GPU benchmarks", lines)

    run(cases, repeat, monitor, report)
    print(f"wrote {args.output}")
