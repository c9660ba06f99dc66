"""BestEffortJournal: the trainer's and actors' journal writes never fail their caller; a
journal that cannot be opened is retried after a quiet period, and rows written once it
can be opened arrive (a real SQLite journal)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cartridge.journal import (
    BestEffortJournal,
    Heartbeat,
    JournalError,
    best_effort,
    sqlite_journal,
)


def beat(updated_at: float) -> Heartbeat:
    return Heartbeat("a-1", "tictactoe", 1, 2, 20, 5.0, 0.0, updated_at)


def test_rows_are_written_and_a_journal_that_fails_is_retried_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(best_effort.time, "monotonic", lambda: clock[0])
    opened: list[bool] = []
    down = [True]

    def opener():
        opened.append(True)
        if down[0]:
            raise JournalError("journal at db.example: connection refused")
        return sqlite_journal(tmp_path / "journal.db")

    journal = BestEffortJournal(opener, "heartbeats")
    with caplog.at_level(logging.WARNING, logger="cartridge.journal.best_effort"):
        assert not journal.write(lambda j: j.heartbeat(beat(1.0)))
        assert not journal.write(lambda j: j.heartbeat(beat(2.0)))  # quiet: not even tried
    assert len(opened) == 1 and journal.dropped == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "heartbeats not recorded" in warnings[0]
    down[0] = False
    clock[0] += best_effort.RETRY_S
    assert journal.write(lambda j: j.heartbeat(beat(3.0)))
    assert sqlite_journal(tmp_path / "journal.db").heartbeats("tictactoe") == [beat(3.0)]
    journal.close()


def test_a_failing_write_is_dropped_not_raised(tmp_path: Path) -> None:
    journal = BestEffortJournal(lambda: sqlite_journal(tmp_path / "journal.db"), "history")

    def broken(_journal) -> None:
        raise JournalError("disk I/O error")

    assert not journal.write(broken)
    assert journal.dropped == 1
