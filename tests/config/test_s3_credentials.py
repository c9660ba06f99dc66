"""S3 credentials come only from the environment or a mounted secret file, never config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartridge.config import SettingsError, load_settings
from cartridge.modelstore import ModelStoreConnectionError
from cartridge.modelstore.factory import s3_credentials

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
SECRET = "s3cr3t-value-never-logged"


def config_with(tmp_path: Path, storage_lines: str) -> Path:
    text = CONFIG.read_text().replace("[storage]\n", f"[storage]\n{storage_lines}\n", 1)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_credentials_come_from_the_environment() -> None:
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_ACCESS_KEY": "trainer",
        "CARTRIDGE_STORAGE_S3_SECRET_KEY": SECRET,
    })
    assert s3_credentials(settings.storage) == ("trainer", SECRET)
    # Secrets stay out of reprs and logs of the settings.
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.storage)


@pytest.mark.parametrize("key", ["s3_access_key", "s3_secret_key"])
def test_credentials_in_the_config_file_are_an_error(tmp_path: Path, key: str) -> None:
    path = config_with(tmp_path, f'{key} = "{SECRET}"')
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert f"storage.{key}" in message
    assert f"CARTRIDGE_STORAGE_{key.upper()}" in message
    assert SECRET not in message


def test_credentials_from_flags_are_an_error() -> None:
    with pytest.raises(SettingsError, match=r"storage\.s3_secret_key"):
        load_settings(CONFIG, overrides={"storage": {"s3_secret_key": SECRET}}, environ={})


def test_the_secret_file_is_used_when_the_environment_has_none(tmp_path: Path) -> None:
    secret_file = tmp_path / "s3-credentials"
    secret_file.write_text(
        f"# mounted from a Secret\naccess_key = trainer\nsecret_key = {SECRET}\n"
    )
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_CREDENTIALS_FILE": str(secret_file),
    })
    assert s3_credentials(settings.storage) == ("trainer", SECRET)


def test_the_environment_wins_over_the_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "s3-credentials"
    secret_file.write_text("access_key = from-file\nsecret_key = from-file\n")
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_CREDENTIALS_FILE": str(secret_file),
        "CARTRIDGE_STORAGE_S3_ACCESS_KEY": "from-env",
        "CARTRIDGE_STORAGE_S3_SECRET_KEY": SECRET,
    })
    assert s3_credentials(settings.storage) == ("from-env", SECRET)


def test_a_malformed_secret_file_is_an_error_that_does_not_echo_it(tmp_path: Path) -> None:
    secret_file = tmp_path / "s3-credentials"
    secret_file.write_text(f"access_key = trainer\n{SECRET}\n")
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_CREDENTIALS_FILE": str(secret_file),
    })
    with pytest.raises(ModelStoreConnectionError, match="line 2") as caught:
        s3_credentials(settings.storage)
    assert SECRET not in str(caught.value)


def test_a_missing_secret_file_is_an_error(tmp_path: Path) -> None:
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_S3_CREDENTIALS_FILE": str(tmp_path / "absent"),
    })
    with pytest.raises(ModelStoreConnectionError, match="absent"):
        s3_credentials(settings.storage)


def test_no_credentials_at_all_is_an_error_naming_endpoint_and_bucket() -> None:
    settings = load_settings(CONFIG, environ={})
    with pytest.raises(ModelStoreConnectionError) as caught:
        s3_credentials(settings.storage)
    message = str(caught.value)
    assert "localhost:9000" in message and "'cartridge'" in message
    assert "CARTRIDGE_STORAGE_S3_SECRET_KEY" in message
