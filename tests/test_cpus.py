"""geotile.cpus: the CPUs a process may use, under cgroup quotas and affinity masks."""

from __future__ import annotations

import os

import pytest

from geotile.cpus import cgroup_cpu_quota, usable_cpus

from .conftest import cgroup_tree


@pytest.mark.parametrize(("files", "proc", "cpus"), [
    ({"cpu.max": "200000 100000\n"}, "0::/\n", 2),  # v2, docker --cpus 2
    ({"cpu.max": "150000 100000\n"}, "0::/\n", 2),  # 1.5 CPUs: rounded up
    ({"cpu.max": "50000 100000\n"}, "0::/\n", 1),
    ({"cpu.max": "max 100000\n"}, "0::/\n", None),  # no limit
    ({"kubepods/pod1/cpu.max": "400000 100000\n", "cpu.max": "max 100000\n"},
     "0::/kubepods/pod1\n", 4),  # the process's own, nested cgroup
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "4:memory:/x\n2:cpu,cpuacct:/\n", 3),  # v1
    ({"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000\n",
      "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"},
     "2:cpu,cpuacct:/docker/abc\n", 1),  # v1, controllers mounted together
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "1:cpu:/\n", None),  # v1 without a quota
    # Linux enforces every ancestor's quota too (a systemd slice's CPUQuota=, a Kubernetes
    # pod's limit above its container's cgroup): the smallest counts
    ({"a/b/cpu.max": "max 100000\n", "a/cpu.max": "100000 100000\n"}, "0::/a/b\n", 1),
    ({"a/b/cpu.max": "400000 100000\n", "a/cpu.max": "200000 100000\n",
      "cpu.max": "max 100000\n"}, "0::/a/b\n", 2),
    ({"a/b/cpu.max": "100000 100000\n", "a/cpu.max": "300000 100000\n"}, "0::/a/b\n", 1),
    ({"cpu,cpuacct/k/pod/c/cpu.cfs_quota_us": "-1\n",
      "cpu,cpuacct/k/pod/c/cpu.cfs_period_us": "100000\n",
      "cpu,cpuacct/k/pod/cpu.cfs_quota_us": "150000\n",
      "cpu,cpuacct/k/pod/cpu.cfs_period_us": "100000\n"},
     "3:cpu,cpuacct:/k/pod/c\n", 2),  # v1, the pod's quota above the container
    ({"cpu.max": "garbage\n"}, "0::/\n", None),
    ({}, "", None),  # no cgroup file system (macOS, Windows, a bare chroot)
])
def test_cgroup_quota_of_v1_and_v2(tmp_path, files, proc, cpus):
    root, proc_cgroup = cgroup_tree(tmp_path, files, proc)
    assert cgroup_cpu_quota(root, proc_cgroup) == cpus


def test_usable_cpus_is_the_affinity_capped_by_the_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    root, proc = cgroup_tree(tmp_path, {"cpu.max": "100000 100000\n"})
    assert usable_cpus(root, proc) == 1
    root, proc = cgroup_tree(tmp_path / "big", {"cpu.max": f"{(affinity + 8) * 100000} 100000\n"})
    assert usable_cpus(root, proc) == affinity  # a quota above the cores does not add any
    root, proc = cgroup_tree(tmp_path / "none", {})
    assert usable_cpus(root, proc) == affinity


def test_onnx_runtime_gets_the_usable_cpus_not_the_machines(tmp_path, monkeypatch):
    from geotile import model as model_module

    from .onnx_models import pointwise_model

    monkeypatch.setattr(model_module, "usable_cpus", lambda: 1)
    model = model_module.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"),
                                             providers="cpu")
    assert model.session.get_session_options().intra_op_num_threads == 1
    explicit = model_module.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"),
                                                providers="cpu", threads=3)
    assert explicit.session.get_session_options().intra_op_num_threads == 3


@pytest.mark.parametrize(("omp", "threads"), [
    ("2", 2),  # a shared HPC node: the user's OMP_NUM_THREADS, as PyTorch honours it
    ("1", 1),
    ("64", 8),  # never more than the CPUs it may use
    ("0", 8), ("", 8), ("four", 8), ("2,1", 8), ("\u00b2", 8), ("-2", 8),  # not a limit
    (" 4 ", 4), ("04", 4),
])
def test_onnx_runtime_threads_follow_a_users_omp_num_threads(tmp_path, monkeypatch, omp,
                                                             threads):
    from geotile import model as model_module

    from .onnx_models import pointwise_model

    monkeypatch.setattr(model_module, "usable_cpus", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    model = model_module.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"),
                                             providers="cpu")
    assert model.session.get_session_options().intra_op_num_threads == threads
    explicit = model_module.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"),
                                                providers="cpu", threads=3)
    assert explicit.session.get_session_options().intra_op_num_threads == 3  # explicit wins


def test_a_dask_workers_model_ignores_the_nannys_omp_num_threads(tmp_path, monkeypatch):
    """dask's nanny sets OMP_NUM_THREADS=1 in each worker it starts (a remote --scheduler's
    too): that is dask's setting, not the user's share, so it does not cut ONNX Runtime to
    one thread there."""
    from geotile import distributed

    from .onnx_models import pointwise_model

    monkeypatch.setattr(distributed, "usable_cpus", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(distributed, "_MODELS", {})
    model = distributed._worker_model(str(pointwise_model(tmp_path / "m.onnx")),
                                      {"providers": "cpu"})
    assert model.session.get_session_options().intra_op_num_threads == 2


def test_a_users_own_dask_cluster_does_not_cut_onnx_runtime_to_one_thread(tmp_path,
                                                                          monkeypatch):
    """A notebook with its own dask LocalCluster (Client()): dask's nanny set
    OMP_NUM_THREADS=1 in the notebook's own environment, and predict there (no --workers) ran
    ONNX Runtime on 1 thread of 8. That is dask's setting, not the user's share."""
    import os

    from distributed import Client, LocalCluster

    from geotile import model as model_module

    from .onnx_models import pointwise_model

    monkeypatch.setattr(model_module, "usable_cpus", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = dict(os.environ)
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):
            assert os.environ.get("OMP_NUM_THREADS") == "1"  # dask's, in this process
            model = model_module.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"),
                                                     providers="cpu")
    finally:
        os.environ.clear()
        os.environ.update(before)
    assert model.session.get_session_options().intra_op_num_threads == 8
