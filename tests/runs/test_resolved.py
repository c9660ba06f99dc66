"""The run's config.toml: file, environment and flags merged; loading it gives the same
settings (the copy reproduces the run); secrets are left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartridge.config.settings import load_settings
from cartridge.runs.resolved import resolved_toml, settings_without_secrets
from tests.actor.helpers import REPO


def test_resolved_config_round_trips_file_environment_and_flags(tmp_path: Path) -> None:
    environ = {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "3", "CARTRIDGE_TRAINING_LR": "1e-05",
               "CARTRIDGE_REPLAY_CAPACITY": "1234", "CARTRIDGE_TRAINING_AMP": "false",
               "CARTRIDGE_ACTOR_ACTOR_ID": 'quote " and \\ backslash é',
               # a game's own search with one key set, the others left to [mcts]
               "CARTRIDGE_SELFPLAY_OTHELLO_NUM_SIMULATIONS": "64"}
    settings = load_settings(REPO / "config.toml", {
        "common": {"env_id": "connect4", "data_dir": tmp_path / "run"},
        "run": {"actors": 3, "arena": False}}, environ=environ)
    copy = tmp_path / "config.toml"
    copy.write_text(resolved_toml(settings))
    assert load_settings(copy, environ={}) == settings
    default = load_settings(REPO / "config.toml", environ={})
    assert default != settings  # the overrides are in the copy, not the defaults


def test_secrets_are_left_out(tmp_path: Path) -> None:
    environ = {"CARTRIDGE_STORAGE_S3_ACCESS_KEY": "AKIA-not-in-copy",
               "CARTRIDGE_STORAGE_S3_SECRET_KEY": "s3cr3t-not-in-copy",
               "CARTRIDGE_STORAGE_POSTGRES_PASSWORD": "pg-not-in-copy"}
    settings = load_settings(REPO / "config.toml", environ=environ)
    text = resolved_toml(settings)
    for secret in environ.values():
        assert secret not in text
        assert secret not in str(settings_without_secrets(settings))
    copy = tmp_path / "config.toml"
    copy.write_text(text)
    # The secrets still come from the environment, as the header says.
    assert load_settings(copy, environ=environ) == settings
    assert "s3_access_key" not in settings_without_secrets(settings)["storage"]


@pytest.mark.parametrize(("url", "kept"), [
    ("postgresql://cartridge:pw-in-url@db:5432/cartridge?sslmode=require",
     "postgresql://cartridge@db:5432/cartridge?sslmode=require"),
    ("host=db user=cartridge password=pw-in-url dbname=cartridge",
     "host=db user=cartridge dbname=cartridge"),
])
def test_a_password_written_into_postgres_url_is_left_out(url: str, kept: str) -> None:
    settings = load_settings(REPO / "config.toml",
                             environ={"CARTRIDGE_STORAGE_POSTGRES_URL": url})
    assert "pw-in-url" not in resolved_toml(settings)
    assert f"postgres_url = \"{kept}\"" in resolved_toml(settings)
    assert settings_without_secrets(settings)["storage"]["postgres_url"] == kept
