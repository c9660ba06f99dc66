"""Symmetries: a group of distinct permutations that commutes with the rules, and
`augment` moving observation, policy and mask of each sample together."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import GAME_IDS, Symmetry, augment, get_game
from cartridge.games.othello import PASS
from cartridge.integrity import (
    SYMMETRY_COUNT,
    commute_problem,
    map_action,
    random_game,
    random_games,
    round_trip_problem,
    symmetric_start,
    symmetry_figures,
    transform_observation,
    transform_policy,
)


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_symmetry_figures(game_id: str) -> None:
    game = get_game(game_id)
    for figure in symmetry_figures(game, games=6 if game_id == "othello" else 25, seed=2):
        assert figure.ok, f"{figure.name}: {figure.value} != {figure.expected}\n{figure.detail}"


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_count_and_identity_first(game_id: str) -> None:
    symmetries = get_game(game_id).symmetries()
    assert len(symmetries) == SYMMETRY_COUNT[game_id]
    assert symmetries[0].name == "identity"


def test_tictactoe_rot90_turns_counterclockwise() -> None:
    game = get_game("tictactoe")
    rot90 = next(s for s in game.symmetries() if s.name == "rot90")
    assert map_action(rot90, 0) == 6  # top-left goes to bottom-left, like np.rot90
    obs = game.encode(game.apply_all([0]))
    assert np.array_equal(transform_observation(rot90, obs)[1], np.rot90(obs[1]))


def test_connect4_mirror_swaps_the_outer_columns() -> None:
    game = get_game("connect4")
    mirror = game.symmetries()[1]
    assert [map_action(mirror, c) for c in range(7)] == [6, 5, 4, 3, 2, 1, 0]
    obs = game.encode(game.apply_all([0]))
    assert transform_observation(mirror, obs)[1, 5, 6] == 1


def test_othello_pass_is_fixed_and_the_mapped_start_swaps_colours_under_rot90() -> None:
    game = get_game("othello")
    for symmetry in game.symmetries():
        assert map_action(symmetry, PASS) == PASS
    rot90 = next(s for s in game.symmetries() if s.name == "rot90")
    start = symmetric_start(game, rot90)
    assert start != game.initial_state()
    assert np.array_equal(game.encode(start), game.encode(game.initial_state())[::-1])
    transpose = next(s for s in game.symmetries() if s.name == "transpose")
    assert symmetric_start(game, transpose) == game.initial_state()


@pytest.mark.parametrize("game_id", ["tictactoe", "othello"])
def test_the_check_catches_a_policy_gather_in_the_wrong_direction(game_id: str) -> None:
    game = get_game(game_id)
    rot90 = next(s for s in game.symmetries() if s.name == "rot90")
    # Observations rotate one way, policies the other: a plausible slip.
    broken = Symmetry("rot90-broken", rot90.cell_src, np.argsort(rot90.action_src))
    problems = [
        commute_problem(game, broken, actions, states)
        for actions, states in random_games(game, 5, seed=4)
    ]
    assert all(p is not None for p in problems)


def test_the_check_catches_a_gather_that_is_not_a_permutation() -> None:
    game = get_game("tictactoe")
    identity = game.symmetries()[0]
    broken = Symmetry("broken", np.zeros(9, dtype=np.int64), identity.action_src)
    obs = game.encode(game.apply_all([0, 4]))
    assert "not permutations" in round_trip_problem(game, broken, obs, np.ones(9))


def batch(game_id: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    game = get_game(game_id)
    rng = np.random.default_rng(seed)
    obs, masks = [], []
    while len(obs) < size:
        _, states = random_game(game, rng)
        for state in states[:-1]:
            obs.append(game.encode(state))
            masks.append(game.legal_mask(state))
    policies = rng.random((size, game.num_actions)).astype(np.float32)  # all values distinct
    return np.stack(obs[:size]), policies, np.stack(masks[:size])


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_augment_applies_one_symmetry_per_sample_to_all_three(game_id: str) -> None:
    game = get_game(game_id)
    obs, policies, masks = batch(game_id, 128, seed=5)
    copies = (obs.copy(), policies.copy(), masks.copy())
    out_obs, out_pol, out_mask = augment(obs, policies, masks, game.symmetries(),
                                         np.random.default_rng(6))
    for original, copy in zip((obs, policies, masks), copies, strict=True):
        assert np.array_equal(original, copy)  # inputs untouched
    used = set()
    for i in range(len(obs)):
        # Distinct random policy values identify the symmetry a sample received.
        (chosen,) = [s for s in game.symmetries()
                     if np.array_equal(transform_policy(s, policies[i]), out_pol[i])]
        used.add(chosen.name)
        assert np.array_equal(out_obs[i], transform_observation(chosen, obs[i]))
        assert np.array_equal(out_mask[i], transform_policy(chosen, masks[i]))
    assert len(used) == len(game.symmetries())
