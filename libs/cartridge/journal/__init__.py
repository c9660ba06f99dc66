"""The journal: the project's one SQL store (SQLAlchemy Core), shared by every service.

SQLite file in the embedded shape, PostgreSQL in compose and Kubernetes; one
versioned schema (`schema.py`) for both. It holds the arena's matches and their
games, ratings, benchmark figures, gate decisions and promotions, and the web
dashboard's training history and actor heartbeats.
"""

from cartridge.journal.best_effort import BestEffortJournal
from cartridge.journal.factory import open_journal, postgres_journal, sqlite_journal
from cartridge.journal.journal import Journal, JournalError, JournalUnavailableError
from cartridge.journal.records import (
    BenchmarkRow,
    GameRow,
    GateRow,
    Heartbeat,
    MatchRecord,
    PairTotals,
    PromotionRow,
    RatingRow,
    TrainingRow,
)

__all__ = [
    "BenchmarkRow",
    "BestEffortJournal",
    "GameRow",
    "GateRow",
    "Heartbeat",
    "Journal",
    "JournalError",
    "JournalUnavailableError",
    "MatchRecord",
    "PairTotals",
    "PromotionRow",
    "RatingRow",
    "TrainingRow",
    "open_journal",
    "postgres_journal",
    "sqlite_journal",
]
