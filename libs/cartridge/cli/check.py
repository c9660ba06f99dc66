"""`cartridge check`: the integrity checks (perft, game counts, encoder and symmetry
round-trips) as a table on stdout, one OK/FAIL per figure; exit status 1 on any FAIL."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import time

from cartridge.integrity import QUICK_DEPTH, Figure, all_figures

log = logging.getLogger("cartridge.check")

_ROW = "{:<9} {:<10} {:<42} {:>12} {:>12}  {}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    depths = ", ".join(f"{game} {depth}" for game, depth in QUICK_DEPTH.items())
    parser.add_argument(
        "--quick", action="store_true",
        help=f"stop perft at the fast depths ({depths}) instead of the deepest published ones",
    )


def _row(figure: Figure) -> str:
    line = _row_text(figure.check, figure.game, figure.name, f"{figure.value:,}",
                     f"{figure.expected:,}", "OK" if figure.ok else "FAIL")
    if figure.detail and not figure.ok:
        line += "\n" + textwrap.indent(figure.detail, "    ")
    return line


def _row_text(*cells: str) -> str:
    return _ROW.format(*cells)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = sys.stdout
    out.write(_row_text("check", "game", "figure", "value", "expected", "") + "\n")
    failed = total = 0
    for figure in all_figures(quick=args.quick, progress=log.info):
        total += 1
        failed += not figure.ok
        out.write(_row(figure) + "\n")
        out.flush()  # rows appear as the slow checks finish
    elapsed = time.perf_counter() - started
    verdict = f"{failed} of {total} FAILED" if failed else f"all {total} OK"
    out.write(f"integrity checks: {verdict} in {elapsed:.1f} s\n")
    return 1 if failed else 0
