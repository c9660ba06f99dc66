"""The vectorised batch encoders agree with the one-state encoders on real positions."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import get_game


def random_positions(env_id: str, games: int, seed: int) -> list:
    game = get_game(env_id)
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(games):
        state = game.initial_state()
        while not game.is_terminal(state):
            states.append(state)
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        states.append(state)  # terminal positions too: their masks are all False
    return states


@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_batch_encoders_match_single_state_encoders(env_id):
    game = get_game(env_id)
    states = random_positions(env_id, 60, seed=7)
    observations = game.encode_batch(states)
    masks = game.legal_mask_batch(states)
    assert observations.dtype == np.float32 and masks.dtype == bool
    assert observations.shape == (len(states), *game.observation_shape)
    assert np.array_equal(observations, np.stack([game.encode(s) for s in states]))
    assert np.array_equal(masks, np.stack([game.legal_mask(s) for s in states]))
    assert not masks[[game.is_terminal(s) for s in states]].any()
