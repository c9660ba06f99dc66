"""The machine record each benchmark section carries (bench/machine.py, bench/__main__.py)."""

from __future__ import annotations

from pathlib import Path

from bench import machine
from bench.__main__ import merge_results

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni amx_tile

processor\t: 1
model name\t: Example CPU 9000
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni amx_tile
"""


def test_names_the_cpu_model_and_the_hot_paths_isa_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    described = machine.describe(cpuinfo)
    assert described["cpu_model"] == "Example CPU 9000"
    # amx_tile and sse2 are not among the flags that change a hot path; order is fixed.
    assert described["isa_flags"] == ["avx2", "avx512f", "avx512_vnni"]
    assert described["cpus"] >= 1


def test_without_cpuinfo_the_model_and_flags_are_unknown(tmp_path: Path) -> None:
    described = machine.describe(tmp_path / "missing")
    assert described["isa_flags"] == "unknown"
    assert described["cpu_model"] != ""


def test_an_earlier_top_level_machine_moves_into_the_sections_measured_then() -> None:
    earlier = {"machine": {"cpu_model": "old"}, "selfplay": {"positions_per_s": 1},
               "trainer": {"samples_per_s": 2, "machine": {"cpu_model": "older"}}}
    measured = {"selfplay": {"positions_per_s": 3, "machine": {"cpu_model": "new"}}}
    merged = merge_results(earlier, measured)
    assert "machine" not in merged
    assert merged["selfplay"] == measured["selfplay"]
    assert merged["trainer"]["machine"] == {"cpu_model": "older"}


def test_an_earlier_section_without_a_machine_takes_the_top_level_one() -> None:
    merged = merge_results({"machine": {"cpu_model": "old"}, "arena": {"games_per_s": 5}},
                           {})
    assert merged == {"arena": {"games_per_s": 5, "machine": {"cpu_model": "old"}}}
