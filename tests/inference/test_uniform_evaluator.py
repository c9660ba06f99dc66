"""UniformEvaluator and masked_softmax: the network-free half of the Evaluator seam."""

from __future__ import annotations

import numpy as np

from cartridge.games import get_game
from cartridge.inference import Evaluator, UniformEvaluator, masked_softmax


def test_uniform_priors_over_legal_actions_and_zero_values(random_positions):
    game = get_game("othello")
    obs, masks = random_positions(game, 40)
    masks[3] = False
    evaluator: Evaluator = UniformEvaluator()
    priors, values = evaluator.evaluate(obs, masks)
    assert evaluator.model_version == 0
    assert priors.dtype == values.dtype == np.float32
    assert values.shape == (40,) and np.all(values == 0)
    counts = masks.sum(axis=1)
    for row, mask, count in zip(priors, masks, counts, strict=True):
        if count:
            np.testing.assert_allclose(row[mask], 1 / count)
        assert np.all(row[~mask] == 0)


def test_masked_softmax_ignores_illegal_logits():
    logits = np.array([[1.0, 2.0, 1e9], [0.0, 0.0, 0.0], [5.0, -5.0, 3.0]], np.float32)
    masks = np.array([[True, True, False], [False, False, False], [True, True, True]])
    priors = masked_softmax(logits, masks)
    e = np.exp([1.0 - 2.0, 0.0])
    np.testing.assert_allclose(priors[0], [*(e / e.sum()), 0], rtol=1e-6)
    assert np.all(priors[1] == 0)
    np.testing.assert_allclose(priors[2].sum(), 1, rtol=1e-6)
    assert priors.dtype == np.float32
