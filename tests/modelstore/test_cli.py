"""`cartridge models`: list, pointers, download and promote, on either backend.

The S3 run talks to moto's S3 server, standing in for MinIO (conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartridge.cli.main import main
from cartridge.modelstore.filesystem import FilesystemModelStore

from .conftest import ACCESS_KEY, SECRET_KEY, S3Server, make_s3_store

CONFIG = str(Path(__file__).resolve().parents[2] / "config.toml")


@pytest.fixture
def fs_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FilesystemModelStore:
    monkeypatch.setenv("CARTRIDGE_COMMON_DATA_DIR", str(tmp_path))
    store = FilesystemModelStore(tmp_path / "models", "connect4")
    store.publish(b"onnx-1", b"ckpt-1", step=100, network={"kind": "resnet"})
    store.publish(b"onnx-2", b"ckpt-2", step=200, network={"kind": "resnet"})
    store.promote(1)
    return store


def cli(*args: str) -> int:
    return main(["models", "--config", CONFIG, "--env", "connect4", *args])


def test_list_shows_versions_steps_sizes_sha_and_pointers(
    fs_store: FilesystemModelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # header + two versions
    first, second = lines[1].split(), lines[2].split()
    assert first[:2] == ["1", "100"] and first[-1] == "best"
    assert second[:2] == ["2", "200"] and second[-1] == "latest"
    assert fs_store.info(2).sha256[:12] in lines[2]
    assert "6" in second  # onnx size in bytes


def test_pointers(fs_store: FilesystemModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("pointers") == 0
    assert capsys.readouterr().out.split() == ["latest", "2", "best", "1"]


@pytest.mark.parametrize(("what", "version", "expected"), [
    ("onnx", "latest", b"onnx-2"),
    ("checkpoint", "best", b"ckpt-1"),
    ("onnx", "1", b"onnx-1"),
])
def test_download(
    fs_store: FilesystemModelStore, tmp_path: Path, what: str, version: str, expected: bytes
) -> None:
    out = tmp_path / "out.bin"
    assert cli("download", version, str(out), "--what", what) == 0
    assert out.read_bytes() == expected


def test_download_metadata(fs_store: FilesystemModelStore, tmp_path: Path) -> None:
    out = tmp_path / "meta.json"
    assert cli("download", "2", str(out), "--what", "meta") == 0
    assert json.loads(out.read_text())["step"] == 200


def test_download_refuses_a_corrupt_model(
    fs_store: FilesystemModelStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (fs_store.game_dir / "v000002" / "model.onnx").write_bytes(b"rot")
    out = tmp_path / "out.onnx"
    assert cli("download", "2", str(out)) == 1
    assert not out.exists()
    assert "v000002/model.onnx" in caplog.text


def test_promote(fs_store: FilesystemModelStore) -> None:
    assert cli("promote", "2") == 0
    assert fs_store.pointer("best") == 2


def test_promote_a_missing_version_fails(
    fs_store: FilesystemModelStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert cli("promote", "9") == 1
    assert fs_store.pointer("best") == 1
    assert "v000009" in caplog.text


def test_works_on_s3(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = make_s3_store(s3_server, s3_bucket, "connect4")
    store.publish(b"onnx-s3", b"ckpt", step=7, network={})
    for key, value in {
        "STORAGE_MODEL_BACKEND": "s3", "STORAGE_S3_ENDPOINT": s3_server.endpoint,
        "STORAGE_S3_BUCKET": s3_bucket, "STORAGE_S3_ACCESS_KEY": ACCESS_KEY,
        "STORAGE_S3_SECRET_KEY": SECRET_KEY,
    }.items():
        monkeypatch.setenv(f"CARTRIDGE_{key}", value)
    assert cli("list") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["1", "7"]
    out = tmp_path / "model.onnx"
    assert cli("download", "latest", str(out)) == 0
    assert out.read_bytes() == b"onnx-s3"
