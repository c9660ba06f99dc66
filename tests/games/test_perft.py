"""Perft against published tables (at the fast depths; `cartridge check` goes deeper)
and the count of every complete tic-tac-toe game."""

from __future__ import annotations

import pytest

from cartridge.games import GAME_IDS, get_game
from cartridge.integrity import (
    PERFT,
    QUICK_DEPTH,
    TICTACTOE_GAMES,
    count_games,
    perft_counts,
    perft_figures,
)


def naive_perft(game_id: str, depth: int) -> int:
    """Perft without bulk counting, to cross-check the one-walk version."""
    game = get_game(game_id)

    def walk(state: object, remaining: int) -> int:
        if remaining == 0:
            return 1
        return sum(walk(game.apply(state, a), remaining - 1) for a in game.legal_actions(state))

    return walk(game.initial_state(), depth)


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_perft_matches_published_values(game_id: str) -> None:
    depth = QUICK_DEPTH[game_id]
    counts = perft_counts(get_game(game_id), depth)
    assert counts == list(PERFT[game_id][:depth])


@pytest.mark.parametrize(("game_id", "depth"), [("tictactoe", 6), ("connect4", 5), ("othello", 5)])
def test_bulk_counting_agrees_with_a_naive_walk(game_id: str, depth: int) -> None:
    counts = perft_counts(get_game(game_id), depth)
    assert counts == [naive_perft(game_id, d) for d in range(1, depth + 1)]


def test_tictactoe_counts_every_complete_game() -> None:
    assert count_games(get_game("tictactoe")) == TICTACTOE_GAMES
    assert TICTACTOE_GAMES.total == sum(TICTACTOE_GAMES[1:])


def test_figures_report_the_expected_values_and_refuse_unpublished_depths() -> None:
    figures = perft_figures(get_game("connect4"), 3)
    assert [(f.name, f.value, f.expected, f.ok) for f in figures] == [
        ("depth 1", 7, 7, True), ("depth 2", 49, 49, True), ("depth 3", 343, 343, True)
    ]
    with pytest.raises(ValueError, match="no published perft beyond depth 9"):
        perft_figures(get_game("tictactoe"), 10)


def test_progress_hears_every_root_move() -> None:
    heard: list[str] = []
    perft_counts(get_game("othello"), 3, progress=heard.append)
    assert heard[-1] == "othello perft to depth 3: root move 4/4"
    assert len(heard) == 4
