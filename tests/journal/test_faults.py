"""Journal faults: unreachable servers, bad paths, and a writer killed mid-match."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cartridge.journal import JournalError, JournalUnavailableError, postgres_journal
from cartridge.journal import sqlite_journal as open_sqlite
from tests.ports import ReservedPort

REPO = Path(__file__).resolve().parents[2]


def test_an_unreachable_server_is_named_and_retryable_without_the_password() -> None:
    with ReservedPort() as reserved:  # held, never listening: nothing answers there
        url = f"postgresql://arena@127.0.0.1:{reserved.port}/cartridge"
        with pytest.raises(JournalUnavailableError) as caught:
            postgres_journal(url, password="s3cret-pw", connect_timeout=1)
    message = str(caught.value)
    assert "127.0.0.1" in message and "cartridge" in message
    assert "s3cret-pw" not in message


def test_a_journal_file_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(JournalError, match=str(blocker)):
        open_sqlite(blocker / "sub" / "journal.db")


# A child that writes 200-game matches as fast as it can, until killed.
_WRITER = """
import sys, time
from cartridge.journal import GameRow, MatchRecord, postgres_journal, sqlite_journal
backend, target = sys.argv[1:]
journal = postgres_journal(target) if backend == "postgres" else \\
    sqlite_journal(__import__("pathlib").Path(target))
games = tuple(GameRow((i % 9,), i % 2, 1.0, 5) for i in range(200))
for i in range(100000):
    journal.record_match(MatchRecord("tictactoe", f"m{i}", "rating", "v1", "random", 8,
                                     games, time.time()))
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_writer_killed_mid_match_leaves_only_whole_matches(backend, tmp_path, request) -> None:
    target = str(tmp_path / "journal.db") if backend == "sqlite" \
        else request.getfixturevalue("postgres_db_url")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _WRITER, backend, target], env=env)
    journal = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal is None and (backend == "postgres" or Path(target).exists()):
                try:
                    journal = open_sqlite(Path(target)) if backend == "sqlite" \
                        else postgres_journal(target)
                except JournalError:
                    journal = None
            if journal is not None and len(journal.match_keys("tictactoe")) >= 3:
                break
            assert child.poll() is None, "the writer died on its own"
            time.sleep(0.05)  # polling the database, not waiting for a result
        else:
            pytest.fail("the writer recorded nothing within 60 s")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        matches = journal.matches("tictactoe")
        assert len(matches) >= 3
        assert all(len(m.games) == 200 for m in matches)  # none half-written
        assert all(t.games % 200 == 0 for t in journal.pair_totals("tictactoe"))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if journal is not None:
            journal.close()
