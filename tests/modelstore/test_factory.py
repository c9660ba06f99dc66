"""open_model_store: [storage] picks the backend, and every S3 key has its effect.

moto's S3 server stands in for MinIO (conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cartridge.config import SettingsError, load_settings
from cartridge.config.settings import Settings
from cartridge.modelstore import ModelStoreConnectionError
from cartridge.modelstore.factory import open_model_store
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.s3 import S3ModelStore

from .conftest import ACCESS_KEY, SECRET_KEY, S3Server

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def settings(**environ: str) -> Settings:
    return load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_ACCESS_KEY": ACCESS_KEY,
        "CARTRIDGE_STORAGE_S3_SECRET_KEY": SECRET_KEY,
        **{f"CARTRIDGE_{key.upper()}": value for key, value in environ.items()},
    })


def s3_settings(server: S3Server, bucket: str, **environ: str) -> Settings:
    return settings(storage_model_backend="s3", storage_s3_endpoint=server.endpoint,
                    storage_s3_bucket=bucket, **environ)


def object_keys(server: S3Server, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=f"http://{server.endpoint}", region_name="us-east-1",
                      aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_filesystem_backend_uses_model_dir_under_data_dir(tmp_path: Path) -> None:
    store = open_model_store(settings(common_data_dir=str(tmp_path), storage_model_dir="m"),
                             "connect4")
    assert isinstance(store, FilesystemModelStore)
    store.publish(b"o", b"c", step=1, network={})
    assert (tmp_path / "m" / "connect4" / "v000001" / "model.onnx").exists()


def test_env_id_defaults_to_the_common_game(tmp_path: Path) -> None:
    store = open_model_store(settings(common_data_dir=str(tmp_path), common_env_id="othello"))
    assert store.env_id == "othello"


def test_s3_backend_endpoint_bucket_and_prefix(s3_server: S3Server, s3_bucket: str) -> None:
    store = open_model_store(s3_settings(s3_server, s3_bucket, storage_s3_prefix="runs/a"),
                             "connect4")
    assert isinstance(store, S3ModelStore)
    store.publish(b"o", b"c", step=1, network={})
    keys = object_keys(s3_server, s3_bucket)
    assert "runs/a/connect4/v000001/model.onnx" in keys
    assert "runs/a/connect4/latest" in keys


def test_an_empty_prefix_puts_games_at_the_bucket_root(s3_server: S3Server, s3_bucket: str) -> None:
    store = open_model_store(s3_settings(s3_server, s3_bucket, storage_s3_prefix=""), "tictactoe")
    store.publish(b"o", b"c", step=1, network={})
    assert "tictactoe/latest" in object_keys(s3_server, s3_bucket)


def test_region_is_used_for_a_new_bucket(s3_server: S3Server, s3_bucket: str) -> None:
    open_model_store(s3_settings(s3_server, s3_bucket, storage_s3_region="eu-west-1"))
    s3 = boto3.client("s3", endpoint_url=f"http://{s3_server.endpoint}", region_name="eu-west-1",
                      aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    assert s3.get_bucket_location(Bucket=s3_bucket)["LocationConstraint"] == "eu-west-1"


def test_secure_talks_tls(s3_server: S3Server, s3_bucket: str) -> None:
    # The stand-in serves plain HTTP, so TLS must fail, naming the https endpoint.
    with pytest.raises(ModelStoreConnectionError, match=f"https://{s3_server.endpoint}"):
        open_model_store(s3_settings(s3_server, s3_bucket, storage_s3_secure="true"))


def test_an_endpoint_with_a_scheme_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"storage\.s3_endpoint"):
        settings(storage_s3_endpoint="http://minio:9000")


def test_an_invalid_bucket_name_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"storage\.s3_bucket"):
        settings(storage_s3_bucket="Not_A_Bucket")
