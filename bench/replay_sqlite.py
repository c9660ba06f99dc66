"""Section `replay_sqlite`: the replay benchmarks of bench.replay on the SQLite backend."""

from bench.replay import run_sqlite as run

__all__ = ["run"]
