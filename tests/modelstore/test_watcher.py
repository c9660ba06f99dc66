"""ModelWatcher: hot reload that refuses bad models and rides out store outages.

The outage tests stop and restart moto's S3 server, standing in for MinIO (conftest.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cartridge.modelstore import ModelInfo, ModelStore
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.watcher import ModelWatcher

from .conftest import S3Server, make_s3_store


@dataclass
class FakeEvaluator:
    """Stands in for OnnxEvaluator: remembers what it was built from."""

    model_version: int
    onnx: bytes


def load(info: ModelInfo, onnx: bytes) -> FakeEvaluator:
    return FakeEvaluator(info.version, onnx)


class CountingStore(FilesystemModelStore):
    """Counts ONNX downloads, to show a refused version is not fetched again."""

    downloads = 0

    def load_onnx(self, version: int) -> bytes:
        self.downloads += 1
        return super().load_onnx(version)


def publish(store: ModelStore, tag: str) -> ModelInfo:
    return store.publish(f"onnx-{tag}".encode(), b"ckpt", step=1, network={"kind": "mlp"})


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path, "tictactoe")


def test_plays_uniform_until_the_first_model_then_takes_it(store: CountingStore) -> None:
    watcher = ModelWatcher(store, load=load)
    assert watcher.current_version == 0
    assert watcher.check_now() is False
    assert watcher.poll() is None
    publish(store, "a")
    assert watcher.poll() is None  # nothing happens until the pointer is checked
    assert watcher.check_now() is True
    evaluator = watcher.poll()
    assert evaluator == FakeEvaluator(1, b"onnx-a")
    assert watcher.current_version == 1
    assert watcher.poll() is None  # handed out once
    assert watcher.check_now() is False  # unchanged pointer: nothing downloaded
    assert store.downloads == 1


def test_a_newer_version_replaces_the_current_one(store: CountingStore) -> None:
    publish(store, "a")
    watcher = ModelWatcher(store, load=load)
    watcher.check_now()
    assert watcher.poll().model_version == 1
    publish(store, "b")
    publish(store, "c")
    watcher.check_now()
    assert watcher.poll() == FakeEvaluator(3, b"onnx-c")  # straight to the newest


def test_a_ready_model_is_replaced_by_a_newer_one_before_the_swap(store: CountingStore) -> None:
    publish(store, "a")
    watcher = ModelWatcher(store, load=load)
    watcher.check_now()
    publish(store, "b")
    watcher.check_now()
    assert watcher.poll().model_version == 2


def test_a_corrupt_model_under_a_valid_pointer_is_refused_and_the_old_one_kept(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    publish(store, "a")
    watcher = ModelWatcher(store, load=load)
    watcher.check_now()
    assert watcher.poll().model_version == 1
    publish(store, "b")
    corrupt = store.game_dir / "v000002" / "model.onnx"
    corrupt.write_bytes(b"truncated")
    with caplog.at_level(logging.ERROR, logger="cartridge.modelstore.watcher"):
        assert watcher.check_now() is False
    assert watcher.poll() is None
    assert watcher.current_version == 1
    assert watcher.refused_versions == {2}
    assert str(corrupt) in caplog.text
    # Remembered: the next checks do not download it again.
    downloads = store.downloads
    for _ in range(3):
        assert watcher.check_now() is False
    assert store.downloads == downloads
    # A good newer version is still taken.
    publish(store, "c")
    watcher.check_now()
    assert watcher.poll().model_version == 3


def test_a_pointer_to_a_missing_version_is_refused(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    publish(store, "a")
    watcher = ModelWatcher(store, load=load)
    watcher.check_now()
    watcher.poll()
    (store.game_dir / "latest").write_text('{"version": 9, "sha256": "0"}')
    with caplog.at_level(logging.ERROR, logger="cartridge.modelstore.watcher"):
        assert watcher.check_now() is False
    assert watcher.current_version == 1
    assert "v000009" in caplog.text


def test_a_model_the_runtime_cannot_load_is_refused(store: CountingStore) -> None:
    def broken(info: ModelInfo, onnx: bytes) -> FakeEvaluator:
        raise ValueError("not an ONNX graph")

    publish(store, "a")
    watcher = ModelWatcher(store, load=broken)
    assert watcher.check_now() is False
    assert watcher.refused_versions == {1}
    assert watcher.poll() is None


def test_follow_best_ignores_latest(store: CountingStore) -> None:
    publish(store, "a")
    publish(store, "b")
    watcher = ModelWatcher(store, follow="best", load=load)
    assert watcher.check_now() is False  # no best yet: keep playing uniform
    store.promote(1)
    watcher.check_now()
    assert watcher.poll() == FakeEvaluator(1, b"onnx-a")
    publish(store, "c")
    assert watcher.check_now() is False
    assert watcher.current_version == 1
    store.promote(3)
    watcher.check_now()
    assert watcher.poll().model_version == 3


def test_backoff_doubles_while_the_store_fails_and_is_capped(store: CountingStore) -> None:
    class Down(FilesystemModelStore):
        def pointer(self, name="latest"):
            raise ConnectionError("down")

    watcher = ModelWatcher(Down(store.root, "tictactoe"), load=load, reload_interval=1.0,
                           max_backoff=5.0)
    assert watcher.next_delay() == 1.0
    delays = []
    for _ in range(5):
        watcher.check_now()
        delays.append(watcher.next_delay())
    assert delays == [2.0, 4.0, 5.0, 5.0, 5.0]


def test_store_outage_keeps_the_model_and_catches_up(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_s3_store(s3_server, s3_bucket)
    publish(store, "a")
    watcher = ModelWatcher(store, load=load, reload_interval=0.5)
    watcher.check_now()
    assert watcher.poll().model_version == 1
    publish(store, "b")  # published just before the outage, not yet seen

    s3_server.stop()
    with caplog.at_level(logging.WARNING, logger="cartridge.modelstore.watcher"):
        for _ in range(3):
            assert watcher.check_now() is False
    assert watcher.current_version == 1
    assert watcher.next_delay() > watcher.reload_interval  # backing off
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not every retry
    assert s3_server.endpoint in warnings[0].getMessage()

    s3_server.start()  # same port, same data
    assert watcher.check_now() is True
    assert watcher.poll() == FakeEvaluator(2, b"onnx-b")
    assert watcher.next_delay() == watcher.reload_interval


def test_the_background_thread_delivers_new_models(store: CountingStore) -> None:
    with ModelWatcher(store, load=load, reload_interval=0.05) as watcher:
        publish(store, "a")
        evaluator = _wait_for(watcher)
        assert evaluator.model_version == 1
        publish(store, "b")
        assert _wait_for(watcher).model_version == 2


def _wait_for(watcher: ModelWatcher, timeout: float = 60.0) -> FakeEvaluator:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evaluator = watcher.poll()
        if evaluator is not None:
            return evaluator
        time.sleep(0.01)
    raise AssertionError("the watcher delivered no model")


def test_int8_precision_loads_the_int8_model(store: CountingStore) -> None:
    store.publish(b"onnx-a", b"ckpt", step=1, network={"kind": "mlp"}, int8=b"int8-a")
    watcher = ModelWatcher(store, precision="int8", load=load)
    assert watcher.check_now() is True
    assert watcher.poll() == FakeEvaluator(1, b"int8-a")
    assert store.downloads == 0  # the fp32 model was not fetched


def test_int8_precision_skips_a_version_without_int8_model(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.publish(b"onnx-a", b"ckpt", step=1, network={"kind": "mlp"}, int8=b"int8-a")
    watcher = ModelWatcher(store, precision="int8", load=load)
    watcher.check_now()
    assert watcher.poll().model_version == 1
    publish(store, "b")  # version 2: fp32 only
    with caplog.at_level(logging.ERROR, logger="cartridge.modelstore.watcher"):
        assert watcher.check_now() is False
    assert watcher.poll() is None  # keeps playing version 1, never version 2 in fp32
    assert watcher.current_version == 1
    assert watcher.refused_versions == {2}
    assert "refusing model version 2" in caplog.text and "model.int8.onnx" in caplog.text
    assert "keeping version 1" in caplog.text
    store.publish(b"onnx-c", b"ckpt", step=3, network={"kind": "mlp"}, int8=b"int8-c")
    assert watcher.check_now() is True  # the next version with an int8 model plays
    assert watcher.poll() == FakeEvaluator(3, b"int8-c")
