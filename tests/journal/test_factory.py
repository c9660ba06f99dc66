"""open_journal: [storage] journal_backend and journal_sqlite_path choose the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartridge.config.settings import load_settings
from cartridge.journal import JournalError, open_journal

REPO = Path(__file__).resolve().parents[2]


def settings(environ: dict[str, str]):
    return load_settings(REPO / "config.toml", environ=environ)


def test_sqlite_journal_lives_at_journal_sqlite_path_under_data_dir(tmp_path: Path) -> None:
    chosen = settings({"CARTRIDGE_COMMON_DATA_DIR": str(tmp_path),
                       "CARTRIDGE_STORAGE_JOURNAL_SQLITE_PATH": "db/arena.sqlite"})
    with open_journal(chosen.storage, chosen.common.data_dir) as journal:
        assert journal.schema_version() >= 1
    assert (tmp_path / "db" / "arena.sqlite").is_file()


def test_postgres_journal_uses_postgres_url(postgres_db_url: str, tmp_path: Path) -> None:
    chosen = settings({"CARTRIDGE_COMMON_DATA_DIR": str(tmp_path),
                       "CARTRIDGE_STORAGE_JOURNAL_BACKEND": "postgres",
                       "CARTRIDGE_STORAGE_POSTGRES_URL": postgres_db_url})
    with open_journal(chosen.storage, chosen.common.data_dir) as journal:
        assert journal.engine.dialect.name == "postgresql"
        assert journal.schema_version() >= 1
    assert not (tmp_path / "journal.db").exists()


def test_postgres_journal_without_a_url_is_refused(tmp_path: Path) -> None:
    chosen = settings({"CARTRIDGE_STORAGE_JOURNAL_BACKEND": "postgres"})
    with pytest.raises(JournalError, match="postgres_url"):
        open_journal(chosen.storage, tmp_path)
