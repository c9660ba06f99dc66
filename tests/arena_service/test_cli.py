"""`python -m arena` flags and `cartridge ratings` on an empty journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.cli import build_parser, overrides_from_args
from cartridge.cli.ratings import ratings_table
from cartridge.config.entry import settings_from_flags
from cartridge.journal import sqlite_journal
from tests.arena_service.helpers import REPO


def test_flags_override_the_arena_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARTRIDGE_ARENA_GATE", raising=False)
    argv = ["--config", str(REPO / "config.toml"), "--env", "connect4",
            "--num-simulations", "7", "--gate", "match"]
    settings = settings_from_flags(build_parser(), argv, overrides_from_args)
    assert settings.common.env_id == "connect4"
    assert (settings.arena.num_simulations, settings.arena.gate) == (7, "match")


def test_a_bad_flag_value_exits_2_naming_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        settings_from_flags(build_parser(), ["--config", str(REPO / "config.toml"),
                                             "--num-simulations", "0"], overrides_from_args)
    assert exited.value.code == 2
    assert "arena.num_simulations" in capsys.readouterr().err


def test_ratings_on_an_empty_journal_says_so(tmp_path: Path) -> None:
    with sqlite_journal(tmp_path / "journal.db") as journal:
        assert "no ratings for othello yet" in ratings_table(journal, "othello", None)
