"""CPU budgets: the affinity mask and real cgroup CPU quotas, read by a child process placed
in them, and the thread counts every entry point derives from them.

The quota tests make real cgroups in this machine's v1 cpu hierarchy (root and a
writable /sys/fs/cgroup/cpu are needed; CI has both). This machine has no cgroup v2 cpu
controller, so the v2 test lays out the same files (/proc/self/{cgroup,mountinfo} and a
cgroup2 tree with cpu.max) in a temporary folder: the parser reads them the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartridge.threads import CpuBudget, cgroup_cpu_quota, choose_threads, cpu_budget

CPU_HIERARCHY = Path("/sys/fs/cgroup/cpu")
PROBE = ("import json; from cartridge.threads import cpu_budget; b = cpu_budget(); "
         "print(json.dumps({'cpus': b.cpus, 'reason': b.reason}))")


def _writable_cpu_hierarchy() -> bool:
    return os.geteuid() == 0 and (CPU_HIERARCHY / "cpu.cfs_quota_us").exists() \
        and os.access(CPU_HIERARCHY, os.W_OK)


needs_cgroup_v1 = pytest.mark.skipif(not _writable_cpu_hierarchy(),
                                     reason="needs root and a writable cgroup v1 cpu hierarchy")


@pytest.fixture
def make_cgroup() -> Iterator:
    made: list[Path] = []

    def make(quota_us: int, parent: Path = CPU_HIERARCHY) -> Path:
        folder = parent / f"cartridge-test-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        made.append(folder)
        (folder / "cpu.cfs_period_us").write_text("100000")
        (folder / "cpu.cfs_quota_us").write_text(str(quota_us))
        return folder

    yield make
    for folder in reversed(made):  # children first; a cgroup with processes cannot go
        folder.rmdir()


def budget_in(cgroup: Path | None = None, cpus: set[int] | None = None) -> dict:
    """cpu_budget() as a child process placed in `cgroup` / pinned to `cpus` reports it."""
    def place() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    out = subprocess.run([sys.executable, "-c", PROBE], preexec_fn=place, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


@needs_cgroup_v1
@pytest.mark.parametrize(("quota_us", "cpus"), [(100_000, 1), (150_000, 1), (50_000, 1)])
def test_a_cgroup_v1_quota_below_the_affinity_mask_sets_the_budget(make_cgroup, quota_us, cpus):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to tell the quota from the affinity mask")
    cgroup = make_cgroup(quota_us)
    budget = budget_in(cgroup)
    assert budget["cpus"] == cpus
    assert "cgroup CPU quota" in budget["reason"] and str(cgroup) in budget["reason"]


@needs_cgroup_v1
def test_a_parent_cgroup_quota_limits_its_children(make_cgroup):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to tell the quota from the affinity mask")
    parent = make_cgroup(100_000)
    child = make_cgroup(-1, parent=parent)  # no quota of its own
    assert budget_in(child)["cpus"] == 1


@needs_cgroup_v1
def test_a_quota_above_the_affinity_mask_leaves_the_mask(make_cgroup):
    cgroup = make_cgroup(64 * 100_000)
    assert budget_in(cgroup, cpus={min(os.sched_getaffinity(0))})["cpus"] == 1
    assert budget_in(cgroup)["cpus"] == len(os.sched_getaffinity(0))


def test_the_affinity_mask_sets_the_budget_without_a_quota():
    budget = budget_in(cpus={min(os.sched_getaffinity(0))})
    assert budget["cpus"] == 1
    assert "affinity mask" in budget["reason"]


def test_cgroup_v2_cpu_max_is_read_at_every_level(tmp_path: Path):
    proc, tree = tmp_path / "proc", tmp_path / "cgroup2"
    proc.mkdir()
    leaf = tree / "kubepods" / "pod1" / "actor"
    leaf.mkdir(parents=True)
    (proc / "cgroup").write_text("0::/kubepods/pod1/actor\n")
    (proc / "mountinfo").write_text(
        f"30 23 0:26 / {tree} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    (tree / "cpu.max").write_text("max 100000\n")
    (tree / "kubepods" / "cpu.max").write_text("max 100000\n")
    (tree / "kubepods" / "pod1" / "cpu.max").write_text("250000 100000\n")
    (leaf / "cpu.max").write_text("max 100000\n")
    quota, where = cgroup_cpu_quota(proc)
    assert quota == 2.5 and where == str(tree / "kubepods" / "pod1" / "cpu.max")
    (leaf / "cpu.max").write_text("50000 50000\n")  # the tighter limit wins
    assert cgroup_cpu_quota(proc) == (1.0, str(leaf / "cpu.max"))


def test_inside_a_container_the_mount_root_is_the_own_cgroup(tmp_path: Path):
    """With a cgroup namespace, /proc/self/cgroup says "/" and the mount is the container's
    own cgroup; without one, the path names the host's folder, which the mount's root
    field removes."""
    proc, tree = tmp_path / "proc", tmp_path / "cgroup2"
    proc.mkdir()
    tree.mkdir()
    (tree / "cpu.max").write_text("100000 100000\n")
    (proc / "mountinfo").write_text(
        f"30 23 0:26 /docker/abc {tree} ro - cgroup2 cgroup2 rw\n")
    (proc / "cgroup").write_text("0::/docker/abc\n")
    assert cgroup_cpu_quota(proc) == (1.0, str(tree / "cpu.max"))
    (proc / "cgroup").write_text("0::/\n")
    assert cgroup_cpu_quota(proc) == (1.0, str(tree / "cpu.max"))


def test_no_cgroup_files_means_no_quota(tmp_path: Path):
    assert cgroup_cpu_quota(tmp_path / "missing") is None
    budget = cpu_budget(tmp_path / "missing")
    assert budget.cpus == len(os.sched_getaffinity(0))


def test_a_set_key_wins_over_the_budget():
    budget = CpuBudget(8, "8 CPUs in the affinity mask")
    assert choose_threads(3, budget, "[training] threads").threads == 3
    auto = choose_threads(0, budget, "[training] threads")
    assert auto.threads == 8 and "affinity mask" in auto.reason
