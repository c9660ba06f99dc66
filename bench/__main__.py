"""Run benchmark sections and merge their JSON into bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import platform
import sys
import time
from pathlib import Path

# section -> module with run() -> dict
SECTIONS = {
    "selfplay": "bench.selfplay",
    "replay_postgres": "bench.replay",
    "replay_sqlite": "bench.replay_sqlite",
    "trainer": "bench.trainer",
}
RESULTS = Path(__file__).parent / "results.json"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"sections to run (default: all): {', '.join(SECTIONS)}")
    args = parser.parse_args()
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; known: {', '.join(SECTIONS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stderr)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.sections or list(SECTIONS):
        started = time.time()
        section = importlib.import_module(SECTIONS[name]).run()
        section["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        section["wall_s"] = round(time.time() - started, 1)
        results[name] = section
        print(json.dumps({name: section}, indent=2), flush=True)
    results["machine"] = {"cpus": _cpus(), "python": platform.python_version(),
                          "processor": platform.processor() or platform.machine()}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
