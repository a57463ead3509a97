"""How much memory this process may really use.

The machine's memory (``SC_PHYS_PAGES``) overstates it in a container: ``docker --memory
4g``, a Kubernetes memory limit or a systemd slice's ``MemoryMax=`` on a 256 GB host kill
the process (OOM) at their own limit. The usable amount is the machine's memory capped by
the smallest memory limit of the process's cgroup and those above it (v2 ``memory.max``,
v1 ``memory.limit_in_bytes``).
"""

from __future__ import annotations

import os
from pathlib import Path

from geotile.cpus import own_cgroups, read_text

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
#: v1 writes "no limit" as the largest page-aligned 63-bit number; anything above this is none
_NO_LIMIT = 2**60


def usable_memory(cgroup_root: Path | None = None, proc_cgroup: Path | None = None) -> int:
    """Bytes this process may use: the machine's memory, at most its cgroups' limit."""
    try:
        machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        machine = 16 * 1024**3
    limit = cgroup_memory_limit(cgroup_root, proc_cgroup)
    return min(machine, limit) if limit else machine


def cgroup_memory_limit(root: Path | None = None, proc_cgroup: Path | None = None) -> int | None:
    """The smallest memory limit of this process's cgroup and those above it (Linux
    enforces each), in bytes; None without a limit or a cgroup file system."""
    folders = own_cgroups(root or CGROUP_ROOT, proc_cgroup or PROC_CGROUP, "memory")
    limits = [limit for limit in map(_limit, folders) if limit is not None]
    return min(limits, default=None)


def _limit(folder: Path) -> int | None:
    """The memory limit set in one cgroup ``folder`` (v2 or v1), or None."""
    text = read_text(folder / "memory.max") or read_text(folder / "memory.limit_in_bytes")
    try:
        limit = int(text or "")
    except ValueError:  # "max", or unreadable
        return None
    return limit if 0 < limit < _NO_LIMIT else None
