"""A real web service on loopback: uvicorn serving the app in a thread, on a free port
(port 0, read back from the bound socket), over a filesystem model store in tmp_path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cartridge.config.settings import Settings, load_settings
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import REPO, publish, tiny_onnx
from web.app import create_app
from web.resources import WebResources, web_resources


@dataclass
class LiveWeb:
    url: str
    resources: WebResources
    data_dir: Path

    def store(self, env_id: str = "tictactoe") -> FilesystemModelStore:
        return FilesystemModelStore(self.data_dir / "models", env_id)

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=60, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60)


def web_settings(data_dir: Path, journal_postgres: str | None = None, **web: Any) -> Settings:
    storage = {} if journal_postgres is None else {
        "journal_backend": "postgres", "postgres_url": journal_postgres}
    return load_settings(REPO / "config.toml", {
        "common": {"data_dir": data_dir}, "web": {"port": 0, **web}, "storage": storage,
        "inference": {"intra_op_threads": 1}}, environ={})


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveWeb]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(publish_models: int = 1, journal_postgres: str | None = None,
              **web: Any) -> LiveWeb:
        data_dir = tmp_path / f"data{len(servers)}"
        store = FilesystemModelStore(data_dir / "models", "tictactoe")
        for step in range(1, publish_models + 1):
            publish(store, tiny_onnx(seed=step), step=step)
        resources = web_resources(web_settings(data_dir, journal_postgres, **web))
        server = uvicorn.Server(uvicorn.Config(create_app(resources), host="127.0.0.1", port=0,
                                               log_level="warning", log_config=None))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        servers.append((server, thread))
        return LiveWeb(f"http://127.0.0.1:{port}", resources, data_dir)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)
