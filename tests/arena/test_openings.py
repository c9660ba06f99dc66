"""Openings: fixed, distinct, legal, non-terminal, and the same on every call."""

from __future__ import annotations

import pytest

from cartridge.arena.openings import openings, select_openings
from cartridge.games import GAME_IDS, get_game


@pytest.mark.parametrize("env_id, count", [("tictactoe", 72), ("connect4", 49), ("othello", 24)])
def test_each_game_has_its_documented_number_of_distinct_openings(env_id, count) -> None:
    game = get_game(env_id)
    every = openings(env_id)
    assert len(every) == count
    assert len({game.key(game.apply_all(list(o))) for o in every}) == count
    assert all(not game.is_terminal(game.apply_all(list(o))) for o in every)


def test_othello_openings_are_four_plies_from_a_fixed_seed() -> None:
    every = openings("othello")
    assert {len(o) for o in every} == {4}
    openings.cache_clear()
    assert openings("othello") == every  # drawn again from the seed: the same list


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_a_limited_selection_is_spread_over_the_set(env_id) -> None:
    every = openings(env_id)
    chosen = select_openings(env_id, 4)
    assert len(chosen) == len(set(chosen)) == 4
    assert chosen[0] == every[0] and chosen[-1] == every[-1]
    assert select_openings(env_id, 0) == every
    assert select_openings(env_id, 10_000) == every


def test_unknown_game_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="chess"):
        openings("chess")
