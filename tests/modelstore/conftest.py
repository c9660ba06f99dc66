"""Fixtures for the model store tests.

No MinIO server can be installed on these machines, so the S3 tests talk to the
S3 protocol server of `moto[server]` on loopback. It stands in for MinIO: the
store under test uses the same `minio` client code as production and nothing in
it is specific to moto.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from cartridge.modelstore.base import ModelStore
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.s3 import S3ModelStore
from tests.ports import ReservedPort

# moto accepts any credentials unless its authentication is switched on
# (test_s3_errors.py does that in a server of its own).
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-do-not-log"


@dataclass
class S3Server:
    """A moto S3 server on a loopback port that tests can stop and restart.

    The first start binds port 0 (the kernel picks a free port, no race with other
    runs); while stopped, the port stays reserved (connections refused, nobody else
    takes it), so a restart comes back on the same port.
    """

    port: int = 0
    server: ThreadedMotoServer | None = None
    _reserved: ReservedPort | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if self._reserved is not None:
            self._reserved.release()
            self._reserved = None
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        # ThreadedMotoServer.start() waits forever when its thread cannot bind the port.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        starter.join(timeout)
        if starter.is_alive():
            raise RuntimeError(f"moto's S3 server did not start on 127.0.0.1:{self.port} "
                               f"within {timeout:.0f} s (port taken?)")
        self.server = server
        self.port = server.get_host_and_port()[1]

    def stop(self) -> None:
        """Stop serving and close the listening socket, so clients get connection refused."""
        assert self.server is not None
        self.server.stop()
        self.server._server.server_close()  # shutdown() alone leaves the port bound
        self.server = None
        self._reserved = ReservedPort(self.port)

    def close(self) -> None:
        if self.server is not None:
            self.stop()
        if self._reserved is not None:
            self._reserved.release()
            self._reserved = None


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def s3_bucket() -> str:
    # moto keeps one in-process state for every server: a bucket per test isolates them.
    return f"test-{uuid.uuid4().hex[:12]}"


def make_s3_store(
    server: S3Server, bucket: str, env_id: str = "tictactoe", **kwargs
) -> S3ModelStore:
    return S3ModelStore(
        endpoint=server.endpoint, bucket=bucket, env_id=env_id, access_key=ACCESS_KEY,
        secret_key=SECRET_KEY, prefix="models", secure=False, **kwargs,
    )


@pytest.fixture(params=["filesystem", "s3"])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[..., ModelStore]:
    """Opens a store of the parametrised backend; every call sees the same storage."""
    if request.param == "filesystem":
        return lambda env_id="tictactoe": FilesystemModelStore(tmp_path / "models", env_id)
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    return lambda env_id="tictactoe": make_s3_store(server, bucket, env_id)


@pytest.fixture
def store(store_factory: Callable[..., ModelStore]) -> ModelStore:
    return store_factory()
