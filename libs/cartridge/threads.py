"""How many CPUs this process may really use, and the thread counts that follow from it.

PyTorch (OpenMP) and ONNX Runtime size their thread pools to the host's cores. That is
wrong twice over in production: a CPU affinity mask (taskset, cpusets, Kubernetes'
static CPU manager) and a CFS quota (`docker run --cpus`, Kubernetes CPU limits) both
give a process fewer CPUs than the host has, and neither library looks at them. An
actor limited to 2 CPUs on a 64-core node would start a 64-thread pool and be
throttled by its quota. `cpu_budget()` reads both limits; every entry point sizes its
pools from it unless a key sets the count, and logs what it chose and why.

The quota is read from the cgroup the process is in (v2 `cpu.max`; v1
`cpu.cfs_quota_us` / `cpu.cfs_period_us`), each level up to the hierarchy's mount taking
the smallest limit, as the kernel enforces the smallest. Mount points come from
/proc/self/mountinfo, so hybrid hosts (v1 cpu controller next to a v2 mount) and
containers (cgroup namespaces) read the right files.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from cartridge.config.settings import InferenceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CpuBudget:
    cpus: int  # whole CPUs this process may use, at least 1
    reason: str  # where the figure comes from, for the start-up log line


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str


def cpu_budget(proc: Path = Path("/proc/self")) -> CpuBudget:
    """The smaller of the CPU affinity mask and the cgroup CPU quota, rounded down (a
    quota of 1.5 CPUs runs one thread unthrottled rather than two throttled)."""
    affinity = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(proc)
    if quota is None:
        return CpuBudget(affinity, f"{affinity} CPUs in the affinity mask, no cgroup CPU quota")
    cpus, where = quota
    if cpus >= affinity:
        return CpuBudget(affinity, f"{affinity} CPUs in the affinity mask "
                                   f"(cgroup quota {cpus:g} CPUs at {where})")
    whole = max(1, math.floor(cpus))
    return CpuBudget(whole, f"cgroup CPU quota {cpus:g} CPUs at {where} "
                            f"({affinity} CPUs in the affinity mask)")


def cgroup_cpu_quota(proc: Path = Path("/proc/self")) -> tuple[float, str] | None:
    """(CPUs, the file that sets it) for the tightest CPU quota over this process's
    cgroup and its ancestors; None when unlimited or unreadable (not Linux, no cgroupfs)."""
    try:
        memberships = (proc / "cgroup").read_text().splitlines()
        mounts = (proc / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    limits = []
    for mount_root, mount_point, version in _cpu_mounts(mounts):
        path = _cgroup_path(memberships, version)
        if path is None:
            continue
        for folder in _levels(Path(mount_point), mount_root, path):
            quota = _read_quota(folder, version)
            if quota is not None:
                limits.append(quota)
    return min(limits, default=None)


def _cpu_mounts(mountinfo: list[str]) -> list[tuple[str, str, int]]:
    """(root inside the hierarchy, mount point, cgroup version) of each mount that can
    carry a CPU quota: cgroup2, and v1 hierarchies with the cpu controller."""
    found = []
    for line in mountinfo:
        fields, _, tail = line.partition(" - ")
        parts, rest = fields.split(), tail.split()
        if len(parts) < 5 or len(rest) < 3:
            continue
        fstype, options = rest[0], rest[2].split(",")
        if fstype == "cgroup2":
            found.append((parts[3], parts[4], 2))
        elif fstype == "cgroup" and "cpu" in options:
            found.append((parts[3], parts[4], 1))
    return found


def _cgroup_path(memberships: list[str], version: int) -> str | None:
    """This process's path in the v2 hierarchy ("0::/path") or the v1 cpu one."""
    for line in memberships:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if version == 2 and number == "0" and controllers == "":
            return path
        if version == 1 and "cpu" in controllers.split(","):
            return path
    return None


def _levels(mount_point: Path, mount_root: str, path: str) -> list[Path]:
    """The process's cgroup folder and each parent up to the mount point. Inside a
    container the mount's root is the container's own cgroup: paths are made relative."""
    relative = Path(path).relative_to(mount_root) if Path(path).is_relative_to(mount_root) \
        else Path(".")
    levels = [mount_point / relative]
    while relative != Path("."):
        relative = relative.parent
        levels.append(mount_point / relative)
    return levels


def _read_quota(folder: Path, version: int) -> tuple[float, str] | None:
    try:
        if version == 2:
            limit, _, period = (folder / "cpu.max").read_text().strip().partition(" ")
            if limit == "max":
                return None
            return int(limit) / int(period), str(folder / "cpu.max")
        limit = int((folder / "cpu.cfs_quota_us").read_text())
        if limit <= 0:  # -1: no quota
            return None
        period = int((folder / "cpu.cfs_period_us").read_text())
        return limit / period, str(folder / "cpu.cfs_quota_us")
    except (OSError, ValueError):
        return None


def choose_threads(configured: int, budget: CpuBudget, key: str) -> ThreadChoice:
    """`configured` threads when the key sets them (> 0), else the whole budget."""
    if configured > 0:
        return ThreadChoice(configured, f"{key} = {configured}")
    return ThreadChoice(budget.cpus, f"{key} = 0: {budget.reason}")


def thread_count(configured: int, key: str, what: str) -> int:
    """Threads for `what`: `configured` if the key sets it, else this process's CPU
    budget; the choice and its reason are logged (once per process, at start)."""
    choice = choose_threads(configured, cpu_budget(), key)
    log.info("%s: %d threads (%s)", what, choice.threads, choice.reason)
    return choice.threads


def resolve_inference(inference: InferenceSettings) -> InferenceSettings:
    """[inference] for this process: intra_op_threads 0 becomes the CPU budget, and
    spinning "auto" becomes "on" (`cartridge run` sets "off" for its children, whose
    cores are shared: a spinning pool there takes cycles from the trainer)."""
    threads = thread_count(inference.intra_op_threads, "[inference] intra_op_threads",
                           "ONNX Runtime intra-op pool")
    spinning = "on" if inference.spinning == "auto" else inference.spinning
    return inference.model_copy(update={"intra_op_threads": threads, "spinning": spinning})
