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


def test_a_sql_ascii_database_still_reads_as_text(postgres_url: str) -> None:
    """initdb without a locale makes SQL_ASCII databases, whose text psycopg returns as
    bytes unless the client asks for UTF8 (as the e2e stand-in once did): the journal does."""
    import uuid

    import psycopg

    from cartridge.journal import Heartbeat, postgres_journal
    from tests.conftest import drop_database

    name = f"cartridge_test_ascii_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 "
                     "LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        params = psycopg.conninfo.conninfo_to_dict(postgres_url)
        url = psycopg.conninfo.make_conninfo(**{**params, "dbname": name})
        with postgres_journal(url) as journal:
            beat = Heartbeat("actor-é", "tictactoe", 1, 2, 3, 4.0, 5.0, 6.0)
            journal.heartbeat(beat)
            assert journal.heartbeats("tictactoe") == [beat]
    finally:
        drop_database(postgres_url, name)
