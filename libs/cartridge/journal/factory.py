"""Open the journal [storage] names: a SQLite file under data_dir, or PostgreSQL.

PostgreSQL connections are made by psycopg from the same libpq URL the replay
buffer uses ([storage] postgres_url), the password passed apart (never in the
URL, so never in a message).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, event

from cartridge.config.settings import StorageSettings
from cartridge.journal.journal import Journal, JournalError, JournalUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers from several processes wait, not fail


def open_journal(storage: StorageSettings, data_dir: Path) -> Journal:
    """[storage] journal_backend: "sqlite" (journal_sqlite_path, relative to data_dir)
    or "postgres" (postgres_url and the password from the environment)."""
    if storage.journal_backend == "postgres":
        if not storage.postgres_url:
            raise JournalError("[storage] journal_backend = 'postgres' needs postgres_url "
                               "(or CARTRIDGE_STORAGE_POSTGRES_URL)")
        password = storage.postgres_password.get_secret_value() or None
        return postgres_journal(storage.postgres_url, password=password)
    path = storage.journal_sqlite_path
    return sqlite_journal(path if path.is_absolute() else data_dir / path)


def sqlite_journal(path: Path) -> Journal:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise JournalError(f"journal {path}: cannot create its folder: {err.strerror}") from None
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _configure(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return Journal(engine, str(path))


def postgres_journal(url: str, *, password: str | None = None, pool_size: int = 2,
                     connect_timeout: float = 10.0) -> Journal:
    from cartridge.replay.postgres import describe_url

    where = f"PostgreSQL {describe_url(url)}"
    # UTF8 on the client side: a database created SQL_ASCII (initdb without a locale)
    # would otherwise hand text back as bytes, which SQLAlchemy cannot read.
    kwargs: dict[str, Any] = {"connect_timeout": max(1, int(connect_timeout)),
                              "client_encoding": "utf8"}
    if password:
        kwargs["password"] = password

    def connect() -> psycopg.Connection:
        try:
            return psycopg.connect(url, **kwargs)
        except psycopg.OperationalError as err:
            message = str(err).strip().replace(password, "***") if password else str(err)
            raise JournalUnavailableError(f"journal {where}: {message.strip()}") from None

    engine = create_engine("postgresql+psycopg://", creator=connect, pool_size=pool_size,
                           max_overflow=2, pool_pre_ping=True)
    return Journal(engine, where)
