"""geotile.usable_memory: the memory a process may use, under cgroup limits."""

from __future__ import annotations

import os

import pytest

from geotile import model as model_module
from geotile.usable_memory import cgroup_memory_limit, usable_memory

from .conftest import cgroup_tree

GIB = 1024**3


@pytest.mark.parametrize(("files", "proc", "limit"), [
    ({"memory.max": f"{4 * GIB}\n"}, "0::/\n", 4 * GIB),  # v2, docker --memory 4g
    ({"memory.max": "max\n"}, "0::/\n", None),  # no limit
    ({"kubepods/pod1/c1/memory.max": "max\n", "kubepods/pod1/memory.max": f"{2 * GIB}\n",
      "memory.max": "max\n"}, "0::/kubepods/pod1/c1\n", 2 * GIB),  # the pod's limit above
    ({"memory/memory.limit_in_bytes": f"{3 * GIB}\n"}, "5:memory:/\n2:cpu:/\n", 3 * GIB),  # v1
    ({"memory/docker/abc/memory.limit_in_bytes": f"{GIB}\n"},
     "5:memory:/docker/abc\n", GIB),  # v1, the container's own cgroup
    ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, "5:memory:/\n", None),  # v1
    ({"memory.max": "garbage\n"}, "0::/\n", None),
    ({"cpu.max": "100000 100000\n"}, "0::/\n", None),  # a CPU quota is no memory limit
    ({}, "", None),  # no cgroup file system
])
def test_cgroup_memory_limit_of_v1_and_v2(tmp_path, files, proc, limit):
    root, proc_cgroup = cgroup_tree(tmp_path, files, proc)
    assert cgroup_memory_limit(root, proc_cgroup) == limit


def test_usable_memory_is_the_machine_capped_by_thecgroup_tree(tmp_path):
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    root, proc = cgroup_tree(tmp_path, {"memory.max": f"{GIB}\n"})
    assert usable_memory(root, proc) == min(GIB, machine)
    root, proc = cgroup_tree(tmp_path / "big", {"memory.max": f"{machine * 4}\n"})
    assert usable_memory(root, proc) == machine  # a limit above the machine adds nothing
    root, proc = cgroup_tree(tmp_path / "none", {})
    assert usable_memory(root, proc) == machine


def test_window_limit_is_half_the_container_not_the_host(tmp_path, monkeypatch):
    """In a 2 GiB container on a big host, predict must refuse a window that the host's memory
    would allow but the container's would not (the kernel kills the process instead)."""
    import geotile.usable_memory as usable

    root, proc = cgroup_tree(tmp_path, {"memory.max": f"{2 * GIB}\n"})
    monkeypatch.setattr(usable, "CGROUP_ROOT", root)
    monkeypatch.setattr(usable, "PROC_CGROUP", proc)
    assert model_module.window_memory_limit() == GIB
