"""`python -m arena` flags and `cartridge ratings` on an empty journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.cli import build_parser, overrides_from_args
from cartridge.cli.ratings import latest_summary, ratings_table
from cartridge.config.entry import settings_from_flags
from cartridge.journal import BenchmarkRow, RatingRow, sqlite_journal
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
        assert latest_summary(journal, "othello") is None


def test_latest_summary_names_the_newest_rated_version(tmp_path: Path) -> None:
    with sqlite_journal(tmp_path / "journal.db") as journal:
        journal.replace_ratings("tictactoe", [
            RatingRow("random", None, None, 0.0, 0.0, 40),
            RatingRow("v3", 3, 300, 412.4, 35.2, 20), RatingRow("v2", 2, 200, 500.0, 40.0, 20)])
        assert latest_summary(journal, "tictactoe") == "arena v3 (step 300) 412 ± 35 Elo"
        journal.record_benchmark(BenchmarkRow("tictactoe", 3, "tictactoe-perfect-play",
                                              "search", 64, 0.9312))
        assert latest_summary(journal, "tictactoe").endswith(", value kept 93.1% with search")
