"""How many CPUs this process may really use.

``os.cpu_count()`` counts the machine's cores. In a container limited to 2 CPUs
(``docker --cpus 2``, a Kubernetes CPU limit) or pinned to a few cores (``taskset``,
cpusets) on a 64-core host, 64 ONNX Runtime threads would take turns on 2 CPUs, spinning
and being throttled. The usable count is the affinity mask, capped by the cgroup's CPU
quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``), rounded up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: this process's cgroups: ``ID:controllers:path`` a line (v2: ``0::path``)
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """CPUs this process may run on: its affinity mask (where the OS has one), at most its
    cgroup's CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        count = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    return max(1, min(count, quota)) if quota else max(1, count)


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int | None:
    """CPUs the cgroup's quota allows (quota / period, rounded up), or None without a quota
    (or where there is no cgroup file system)."""
    for folder in _own_cgroups(root, proc_cgroup):
        v2 = _read(folder / "cpu.max")
        if v2 is not None:
            parts = v2.split()
            if len(parts) == 2 and parts[0] != "max":
                return _cpus(parts[0], parts[1])
            continue
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return _cpus(quota, period)
    return None


def _own_cgroups(root: Path, proc_cgroup: Path) -> list[Path]:
    """Where this process's CPU controller may be: its own cgroup (from ``proc_cgroup``)
    under ``root`` and ``root``/cpu (v1), then ``root`` and ``root``/cpu themselves (a
    container sees its own cgroup there)."""
    folders = []
    text = _read(proc_cgroup) or ""
    for line in text.splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        relative = path.strip().lstrip("/")
        if controllers == "":  # v2
            folders.append(root / relative)
        elif "cpu" in controllers.split(","):  # v1
            folders.append(root / controllers / relative)
            folders.append(root / "cpu" / relative)
    return [*dict.fromkeys([*folders, root, root / "cpu"])]


def _cpus(quota: str, period: str) -> int | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:  # v1: -1 means no quota
        return None
    return max(1, math.ceil(quota_us / period_us))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
