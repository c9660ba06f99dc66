from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cartridge.games import Game


def play_random_positions(
    game: Game, count: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`count` positions reached by random play: observations [B, C, H, W], masks [B, A]."""
    rng = np.random.default_rng(seed)
    observations, masks = [], []
    state = game.initial_state()
    while len(observations) < count:
        if game.is_terminal(state):
            state = game.initial_state()
        observations.append(game.encode(state))
        masks.append(game.legal_mask(state))
        state = game.apply(state, int(rng.choice(game.legal_actions(state))))
    return np.stack(observations).astype(np.float32), np.stack(masks)


@pytest.fixture
def random_positions() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return play_random_positions
