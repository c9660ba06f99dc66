"""A long run's SQLite replay file stops growing once [replay] capacity is reached.

The trainer trims to capacity at every checkpoint (delete the oldest positions). The
store does not VACUUM and SQLite's auto_vacuum is off, so the file never shrinks:
deleted pages go onto SQLite's freelist and later inserts reuse them, which is what
keeps the file at the size of about `capacity` positions. The WAL file is reused from
its start after each automatic checkpoint, so it stops growing as well.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np

from cartridge.replay.sqlite import SqliteReplayStore
from tests.replay.helpers import make_game

CAPACITY = 3_000  # positions
ROUND = 600  # positions appended between two trims (a checkpoint interval's worth)
GAME_LENGTH = 20


def database_bytes(db: Path) -> int:
    """The database's size in pages (what the file holds once the WAL is checkpointed
    into it), read by a second connection so checkpoint timing does not matter."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return pages * conn.execute("PRAGMA page_size").fetchone()[0]


def wal_bytes(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def play_rounds(store: SqliteReplayStore, rounds: int, rng: np.random.Generator,
                trim: bool) -> list[int]:
    sizes = []
    for _ in range(rounds):
        for _ in range(ROUND // GAME_LENGTH):
            store.append_game(make_game("connect4", GAME_LENGTH, rng))
        if trim:
            store.trim("connect4", CAPACITY)
        sizes.append(database_bytes(store.path))
    return sizes


def test_the_file_stops_growing_at_capacity(tmp_path: Path) -> None:
    store = SqliteReplayStore(tmp_path / "replay.db")
    rng = np.random.default_rng(0)
    try:
        # Fill to capacity and past it once, so the freelist has seen a full turnover.
        filled = play_rounds(store, 2 * CAPACITY // ROUND, rng, trim=True)
        assert store.stats("connect4").positions <= CAPACITY
        # Then as long again as the whole buffer holds, three times over.
        later = play_rounds(store, 3 * CAPACITY // ROUND, rng, trim=True)
        assert store.stats("connect4").positions <= CAPACITY
        wal = wal_bytes(store.path)  # while open: closing checkpoints and removes it
    finally:
        store.close()
    one_round = (filled[1] - filled[0])  # what a round adds while the buffer fills
    assert one_round > 0
    # Growth after capacity is below one round's worth: without trimming (below) every
    # round adds one_round.
    assert max(later) - filled[-1] < one_round, (filled, later)
    # The WAL is reused after each automatic checkpoint (1000 pages): bounded too.
    assert 0 < wal < 2 * 1000 * 4096 + one_round, wal


def test_without_trimming_the_file_grows_every_round(tmp_path: Path) -> None:
    # The control: the same rounds, never trimmed, keep growing the file.
    store = SqliteReplayStore(tmp_path / "replay.db")
    try:
        sizes = play_rounds(store, 3 * CAPACITY // ROUND, np.random.default_rng(0), trim=False)
    finally:
        store.close()
    assert sizes[-1] - sizes[2 * CAPACITY // ROUND - 1] >= (CAPACITY // ROUND) * (
        sizes[1] - sizes[0]) * 0.5, sizes
