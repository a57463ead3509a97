"""Running benchmark commands: each a fresh process, timed, its peak memory (and a GPU's
use) sampled; the machine described for the tables."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
GEOTILE = [PY, "-m", "geotile", "-q"]


class GpuMonitor:
    """NVML samples of GPU 0 (utilisation %, memory in use) while a process runs."""

    def __init__(self) -> None:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.name = pynvml.nvmlDeviceGetName(self.handle)
        self.start()

    def start(self) -> None:
        self.busy: list[int] = []
        self.used_mb = 0.0

    def sample(self) -> None:
        self.busy.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)
        used = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / 2**20
        self.used_mb = max(self.used_mb, used)


def run_once(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one command's largest process."""
    seconds, rss, _ = run_measured(command)
    return seconds, rss


def run_measured(command: list[str]) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB of its largest process, CPU seconds of all its processes:
    user + system, from the rusage of reaped children) of one command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, peaks = run_tree(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, max(peaks.values(), default=0) / 1024, cpu


def run_tree(command: list[str], gpu: GpuMonitor | None = None, stdout: Path | None = None
             ) -> tuple[float, dict[int, int]]:
    """(seconds, {pid: peak RSS in kB}) of one command and every process it started;
    its standard output goes to ``stdout`` (else nowhere).

    Each peak is the process's own VmHWM, polled from /proc: rusage's ru_maxrss would
    also count the benchmark parent's memory, which the child inherits at fork.
    """
    with open(stdout, "wb") if stdout else contextlib.nullcontext(subprocess.DEVNULL) as out:
        return _run_tree(command, gpu, out)


def _run_tree(command, gpu, stdout) -> tuple[float, dict[int, int]]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    if gpu is not None:
        gpu.start()
    while process.poll() is None:
        if gpu is not None:
            gpu.sample()
        for pid in process_tree(process.pid):
            peaks[pid] = max(peaks.get(pid, 0), high_water_kb(pid))
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace").strip().splitlines()
    process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}... failed: {error[-1] if error else ''}")
    return seconds, peaks


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now (from /proc/PID/task/*/children)."""
    pids, index = [pid], 0
    while index < len(pids):
        # a process (vectorize's short-lived workers) may exit while its tasks are listed
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            for task in list(Path(f"/proc/{pids[index]}/task").glob("*/children")):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                    pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def high_water_kb(pid: int) -> int:
    """Peak resident memory (VmHWM) of a live process in kB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def load() -> str:
    """The 1-minute load average and the core count, e.g. '4.3 on 2 cores'."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def machine() -> str:
    import onnxruntime
    import rasterio

    from geotile import __version__

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM; Python "
            f"{platform.python_version()}, geotile {__version__}, rasterio {rasterio.__version__}"
            f" (GDAL {rasterio.__gdal_version__}), onnxruntime {onnxruntime.__version__}")


def compile_geotile() -> None:
    """Byte-compile geotile as an installed package is, so that no run pays for compiling
    it (PYTHONDONTWRITEBYTECODE would otherwise make every fresh process recompile)."""
    import compileall

    import geotile

    compileall.compile_dir(Path(geotile.__file__).parent, quiet=1)


def write_section(results: Path, lines: list[str], section: str) -> None:
    """Replace (or append) ``section`` (its heading line) of ``results`` by ``lines``."""
    text = results.read_text() if results.exists() else ""
    start = text.find(section + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(section))
        text = text[:start] + "\n".join(lines) + "\n" + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + "\n".join(lines) + "\n"
    results.write_text(text)


def add_run(results: Path, title: str, lines: list[str]) -> None:
    """Put one run's section (``lines``, from its ``## `` heading) first in ``results``,
    under the file's ``title``: earlier runs and the notes written about them are kept. A
    section of the same heading (a run reporting again as it goes) is replaced in place."""
    text = results.read_text() if results.exists() else ""
    if f"\n{lines[0]}\n" in text:
        write_section(results, lines, lines[0])
        return
    if not text.startswith(title + "\n"):
        text = f"{title}\n\n{text}" if text else f"{title}\n"
    head, rest = title + "\n", text[len(title) + 1:].lstrip("\n")
    results.write_text(head + "\n" + "\n".join(lines).rstrip("\n") + "\n"
                       + ("\n" + rest if rest else ""))
