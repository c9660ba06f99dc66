"""Bad connection settings fail at start, naming host and database, never the password."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from cartridge.replay.base import ReplayUnavailableError
from cartridge.replay.postgres import PostgresReplayStore, ReplayConnectionError
from cartridge.replay.postgres_schema import SchemaVersionError
from tests.ports import ReservedPort
from tests.replay.pgserver import ThrowawayServer, start_throwaway_server

SUPERUSER_SECRET = "Sup3r-s3cret-pw"
ROLE_SECRET = "r0le-s3cret-pw"


@pytest.fixture(scope="module")
def password_server() -> Iterator[ThrowawayServer]:
    """A server that checks passwords (scram), unlike the shared trust-auth one."""
    server = start_throwaway_server(superuser_password=SUPERUSER_SECRET)
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE cartridge_actor LOGIN PASSWORD '{ROLE_SECRET}'")
        conn.execute("CREATE DATABASE replay_locked")  # owned by postgres: no CREATE for others
    try:
        yield server
    finally:
        server.destroy()


def _open_error(url: str, **kwargs: object) -> str:
    with pytest.raises(ReplayConnectionError) as error:
        PostgresReplayStore(url, connect_timeout=3, **kwargs)
    return str(error.value)


def test_nothing_listening_names_host_port_and_database() -> None:
    with ReservedPort() as closed:  # bound, never listening: connections are refused
        port = closed.port
        message = _open_error(f"postgresql://cartridge:pw-in-url@127.0.0.1:{port}/replay_x")
    assert f"127.0.0.1:{port}" in message and "replay_x" in message
    assert "pw-in-url" not in message


def test_missing_database(postgres_url: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(postgres_url)
    params["dbname"] = "cartridge_no_such_db"
    message = _open_error(psycopg.conninfo.make_conninfo(**params))
    assert "cartridge_no_such_db" in message and str(params.get("host")) in message
    assert "does not exist" in message


def test_wrong_password_in_url(password_server: ThrowawayServer) -> None:
    url = f"postgresql://cartridge_actor:wrong-Pa55@127.0.0.1:{password_server.port}/postgres"
    message = _open_error(url)
    assert "127.0.0.1" in message and "'postgres'" in message
    assert "password authentication failed" in message
    assert "wrong-Pa55" not in message


def test_wrong_password_from_the_environment(password_server: ThrowawayServer) -> None:
    url = f"postgresql://cartridge_actor@127.0.0.1:{password_server.port}/postgres"
    message = _open_error(url, password="wrong-Pa55")
    assert "password authentication failed" in message and "wrong-Pa55" not in message


def test_permission_denied(password_server: ThrowawayServer) -> None:
    url = f"postgresql://cartridge_actor@127.0.0.1:{password_server.port}/replay_locked"
    message = _open_error(url, password=ROLE_SECRET)
    assert "permission denied" in message and "replay_locked" in message
    assert ROLE_SECRET not in message


def test_right_password_opens(password_server: ThrowawayServer) -> None:
    url = f"postgresql://postgres@127.0.0.1:{password_server.port}/postgres"
    PostgresReplayStore(url, password=SUPERUSER_SECRET).close()


def test_malformed_url_is_not_echoed() -> None:
    message = _open_error("postgresql://u:leaky-pw@127.0.0.1:notaport/db")
    assert "leaky-pw" not in message


def test_newer_schema_is_a_clear_error(postgres_db_url: str) -> None:
    PostgresReplayStore(postgres_db_url).close()
    with psycopg.connect(postgres_db_url, autocommit=True) as conn:
        conn.execute("UPDATE replay_schema SET version = version + 1")
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        PostgresReplayStore(postgres_db_url)


def test_schema_is_created_once_and_reopened(postgres_db_url: str) -> None:
    PostgresReplayStore(postgres_db_url).close()
    PostgresReplayStore(postgres_db_url).close()
    with psycopg.connect(postgres_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM replay_schema").fetchone()[0] == 1


def test_only_an_unreachable_server_is_worth_retrying(postgres_url: str) -> None:
    """Actors and the trainer wait for a server that is down, not for wrong settings."""
    with ReservedPort() as closed, pytest.raises(ReplayUnavailableError):
        PostgresReplayStore(f"postgresql://postgres@127.0.0.1:{closed.port}/x", connect_timeout=3)
    params = psycopg.conninfo.conninfo_to_dict(postgres_url)
    params["dbname"] = "cartridge_no_such_db"
    with pytest.raises(ReplayConnectionError) as error:
        PostgresReplayStore(psycopg.conninfo.make_conninfo(**params), connect_timeout=3)
    assert not isinstance(error.value, ReplayUnavailableError)
