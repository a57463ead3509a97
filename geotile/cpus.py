"""How many CPUs this process may really use.

``os.cpu_count()`` counts the machine's cores. In a container limited to 2 CPUs
(``docker --cpus 2``, a Kubernetes CPU limit) or pinned to a few cores (``taskset``,
cpusets) on a 64-core host, 64 ONNX Runtime threads would take turns on 2 CPUs, spinning
and being throttled. The usable count is the affinity mask, capped by the smallest CPU
quota of the process's cgroup and those above it (v2 ``cpu.max``, v1
``cpu.cfs_quota_us``/``cpu.cfs_period_us``), rounded up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

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
    """CPUs the cgroup quotas allow (quota / period, rounded up): the smallest of this
    process's cgroup and those above it, as Linux enforces each (a systemd slice's
    CPUQuota=, a Kubernetes pod's limit). None without a quota or cgroup file system."""
    quotas = [q for q in map(_quota, own_cgroups(root, proc_cgroup, "cpu")) if q is not None]
    return min(quotas, default=None)


def _quota(folder: Path) -> int | None:
    """The CPU quota set in one cgroup ``folder`` (v2 ``cpu.max`` or v1), or None."""
    v2 = read_text(folder / "cpu.max")
    if v2 is not None:
        parts = v2.split()
        return _cpus(parts[0], parts[1]) if len(parts) == 2 and parts[0] != "max" else None
    quota, period = read_text(folder / "cpu.cfs_quota_us"), read_text(folder / "cpu.cfs_period_us")
    return _cpus(quota, period) if quota is not None and period is not None else None


def own_cgroups(root: Path, proc_cgroup: Path, controller: str) -> list[Path]:
    """Where this process's ``controller`` ("cpu", "memory") may be: its own cgroup (from
    ``proc_cgroup``) under ``root`` and ``root``/``controller`` (v1) and each cgroup above
    it, then ``root`` and ``root``/``controller`` themselves (a container sees its own
    cgroup there)."""
    folders = []
    text = read_text(proc_cgroup) or ""
    for line in text.splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        parts = PurePosixPath(path.strip().lstrip("/")).parts
        if controllers == "":  # v2
            bases = [root]
        elif controller in controllers.split(","):  # v1
            bases = [root / controllers, root / controller]
        else:
            continue
        folders += [base.joinpath(*parts[:n]) for base in bases
                    for n in range(len(parts), -1, -1)]
    return [*dict.fromkeys([*folders, root, root / controller])]


def _cpus(quota: str, period: str) -> int | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:  # v1: -1 means no quota
        return None
    return max(1, math.ceil(quota_us / period_us))


def read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
