"""Run benchmark sections and merge their JSON into bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from bench import machine

# section -> module with run() -> dict ("module:function" names another function)
SECTIONS = {
    "selfplay": "bench.selfplay",
    "replay_postgres": "bench.replay",
    "replay_sqlite": "bench.replay_sqlite",
    "trainer": "bench.trainer",
    "learning": "bench.learning",
    "learning_connect4": "bench.learning:run_connect4",
    "learning_othello": "bench.learning:run_othello",
    "reload": "bench.reload",
    "run_throughput": "bench.run_throughput",
    "web_load": "bench.web_load",
    "arena": "bench.arena",
    "int8": "bench.int8",
    "int8_othello": "bench.int8:run_othello",
}
# Too long for a routine `make bench`: run only when named.
OPT_IN = {"learning_connect4", "learning_othello", "int8", "int8_othello"}
RESULTS = Path(__file__).parent / "results.json"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"sections to run (default: all but {', '.join(sorted(OPT_IN))}): "
                        f"{', '.join(SECTIONS)}")
    args = parser.parse_args()
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; known: {', '.join(SECTIONS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stderr)
    measured: dict[str, dict] = {}
    for name in args.sections or [name for name in SECTIONS if name not in OPT_IN]:
        started = time.time()
        module, _, function = SECTIONS[name].partition(":")
        section = getattr(importlib.import_module(module), function or "run")()
        section["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        section["wall_s"] = round(time.time() - started, 1)
        section["machine"] = machine.describe()
        measured[name] = section
        print(json.dumps({name: section}, indent=2), flush=True)
    # Read just before writing: another bench run may have written sections meanwhile.
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(merge_results(results, measured), indent=2) + "\n")
    return 0


def merge_results(results: dict[str, Any], measured: dict[str, dict]) -> dict[str, Any]:
    """results.json with the sections just measured replacing their earlier figures.
    Before each section recorded its machine, one top-level "machine" named whichever
    ran last: it moves into the sections measured then, so none takes a wrong one."""
    earlier_machine = results.pop("machine", None)
    if earlier_machine:
        for section in results.values():
            if isinstance(section, dict):
                section.setdefault("machine", earlier_machine)
    return results | measured


if __name__ == "__main__":
    sys.exit(main())
