"""CPU seconds by role of a real process tree (bench/cpu_shares.py): a parent that
starts one normal and one idle-priority child, each running a module that burns CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.cpu_shares import cpu_seconds_by_role

# Each child burns half a second of CPU, then sleeps until killed.
BURN = ("import time\n"
        "start = time.process_time()\n"
        "while time.process_time() - start < 0.5: pass\n"
        "time.sleep(600)\n")
# The parent: two `python -m` children (the module is the role), the second at SCHED_IDLE.
PARENT = """
import os, subprocess, sys, time
module = {"PYTHONPATH": sys.argv[1]}
normal = subprocess.Popen([sys.executable, "-m", "burn_normal"], env=module)
idle = subprocess.Popen([sys.executable, "-m", "burn_idle"], env=module,
                        preexec_fn=lambda: os.sched_setscheduler(0, os.SCHED_IDLE,
                                                                 os.sched_param(0)))
time.sleep(600)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_sums_cpu_seconds_by_module_and_marks_idle_priority(tmp_path) -> None:
    for module in ("burn_normal", "burn_idle"):
        (tmp_path / f"{module}.py").write_text(BURN)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)],
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        seconds: dict[str, float] = {}
        # Until both children have burnt their half second (the idle one runs once a
        # CPU is free); they then sleep, so the figures stop growing.
        while not (seconds.get("burn_normal", 0) >= 0.4 and
                   seconds.get("burn_idle (idle)", 0) >= 0.4):
            assert time.monotonic() < deadline, f"children never burnt 0.4 s: {seconds}"
            time.sleep(0.2)
            seconds = cpu_seconds_by_role(parent.pid)
        assert set(seconds) == {"burn_normal", "burn_idle (idle)"}
        assert seconds["burn_normal"] < 5 and seconds["burn_idle (idle)"] < 5
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()


def test_a_process_without_children_has_no_roles() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert cpu_seconds_by_role(sleeper.pid) == {}
    finally:
        sleeper.kill()
        sleeper.wait()
