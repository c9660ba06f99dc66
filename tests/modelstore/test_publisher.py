"""Retrying publish: the trainer keeps training through store outages and loses no checkpoint.

The outage test stops and restarts moto's S3 server, standing in for MinIO (conftest.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from cartridge.modelstore import ModelStoreUnavailableError
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.publisher import ModelPublisher, publish_with_retry

from .conftest import S3Server, make_s3_store

NETWORK = {"kind": "mlp", "blocks": 1, "channels": 8}


class FlakyStore(FilesystemModelStore):
    """Fails the first `failures` publishes as if the store were unreachable."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root, "tictactoe")
        self.failures = failures
        self.attempts = 0

    def publish(self, onnx, checkpoint, *, step, network, run=None, int8=None):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ModelStoreUnavailableError("store down")
        return super().publish(onnx, checkpoint, step=step, network=network, run=run,
                               int8=int8)


def test_publish_with_retry_retries_until_the_store_answers(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path, failures=3)
    info = publish_with_retry(store, b"onnx", b"ckpt", step=7, network=NETWORK,
                              initial_backoff=0.001, max_backoff=0.002)
    assert info is not None and info.step == 7
    assert store.attempts == 4
    assert store.load_checkpoint(info.version) == b"ckpt"


def test_publish_with_retry_gives_up_only_when_stopped(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path, failures=10**9)
    stop = threading.Event()
    stop.set()
    assert publish_with_retry(store, b"o", b"c", step=1, network=NETWORK, stop=stop) is None
    assert store.versions() == []


def test_publisher_keeps_every_checkpoint_through_an_outage(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = make_s3_store(s3_server, s3_bucket)
    publisher = ModelPublisher(store, initial_backoff=0.05, max_backoff=0.2)
    publisher.submit(b"onnx-100", b"ckpt-100", step=100, network=NETWORK)
    assert publisher.flush(timeout=60)

    s3_server.stop()
    for step in (200, 300, 400):
        publisher.submit(f"onnx-{step}".encode(), f"ckpt-{step}".encode(), step=step,
                         network=NETWORK)  # returns at once: training goes on
    assert publisher.pending == 3
    assert publisher.flush(timeout=0.5) is False  # nothing can be stored while it is down

    s3_server.start()
    assert publisher.close(timeout=120)
    assert publisher.pending == 0
    steps = [store.info(version).step for version in store.versions()]
    assert steps == [100, 200, 300, 400]  # all of them, in order
    latest = store.latest()
    assert latest is not None and latest.step == 400
    assert store.load_checkpoint(latest.version) == b"ckpt-400"
    assert publisher.last_published == latest
