"""Benchmarks: `python -m bench [SECTION ...]` (make bench).

Each section is a module here with `run() -> dict`; results go to stdout and
are merged into bench/results.json, so running one section keeps the others.
"""
