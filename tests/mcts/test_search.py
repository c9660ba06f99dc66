"""Batched MCTS: tactics, targets, noise, tree reuse, batching and the effect of every knob."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMcts, SearchConfig, choose_actions


class CountingEvaluator(UniformEvaluator):
    """Uniform, and records the size of every batch it is asked to evaluate."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def evaluate(self, observations, legal_masks):
        self.batches.append(len(observations))
        return super().evaluate(observations, legal_masks)


def search_once(env_id, actions_list, *, noise=False, evaluator=None, seed=0, **knobs):
    game = get_game(env_id)
    mcts = BatchedMcts(game, evaluator or UniformEvaluator(), SearchConfig(**knobs),
                       num_slots=len(actions_list), rng=np.random.default_rng(seed),
                       add_noise=noise)
    for slot, actions in enumerate(actions_list):
        mcts.reset(slot, game.apply_all(actions))
    return mcts, mcts.search()


@pytest.mark.parametrize(("env_id", "actions", "winning"), [
    ("tictactoe", [0, 3, 1, 4], {2}),  # X completes the top row
    ("connect4", [0, 1, 0, 1, 0, 1], {0}),  # first player's fourth stone in column 0
    ("connect4", [3, 3, 4, 4, 5, 5], {2, 6}),  # open three on the bottom row: either end wins
])
def test_finds_a_win_in_one(env_id, actions, winning):
    _, result = search_once(env_id, [actions], num_simulations=300)
    assert result.visits[0].argmax() in winning
    assert result.root_values[0] > 0.5


@pytest.mark.parametrize(("env_id", "actions", "block"), [
    ("tictactoe", [0, 4, 1], 2),  # O must block X's top row
    ("connect4", [0, 6, 0, 6, 0], 0),  # second player must cap column 0
])
def test_blocks_a_loss_in_one(env_id, actions, block):
    _, result = search_once(env_id, [actions], num_simulations=400)
    assert result.visits[0].argmax() == block


@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_visit_distribution_sums_to_one_over_legal_actions(env_id):
    game = get_game(env_id)
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(6):
        state, actions = game.initial_state(), []
        for _ in range(rng.integers(0, 6)):
            legal = game.legal_actions(state)
            if not legal or game.is_terminal(state):
                break
            actions.append(int(rng.choice(legal)))
            state = game.apply(state, actions[-1])
        if not game.is_terminal(state):
            lines.append(actions)
    _, result = search_once(env_id, lines, num_simulations=64, noise=True)
    for row, actions in enumerate(lines):
        mask = game.legal_mask(game.apply_all(actions))
        assert result.visits[row].sum() == pytest.approx(1.0, abs=1e-6)
        assert np.all(result.visits[row][~mask] == 0)


def test_noise_only_when_asked():
    clean, _ = search_once("connect4", [[]], num_simulations=8, noise=False)
    noisy, _ = search_once("connect4", [[]], num_simulations=8, noise=True)
    assert np.allclose(clean.P[0, 0], 1 / 7)
    assert not np.allclose(noisy.P[0, 0], 1 / 7)
    assert noisy.P[0, 0].sum() == pytest.approx(1.0, abs=1e-5)


def test_dirichlet_noise_only_at_the_roots_marked_noisy():
    game = get_game("connect4")
    mcts = BatchedMcts(game, UniformEvaluator(), SearchConfig(num_simulations=8), num_slots=3,
                       rng=np.random.default_rng(0), add_noise=True)
    for slot in range(3):
        mcts.reset(slot, game.initial_state())
    mcts.search(noisy=np.array([True, False, True]))
    uniform = [bool(np.allclose(mcts.P[slot, 0], 1 / 7)) for slot in range(3)]
    assert uniform == [False, True, False]


def test_tree_reuse_keeps_the_chosen_subtree_statistics():
    game = get_game("connect4")
    mcts, _ = search_once("connect4", [[]], num_simulations=200)
    action = int(mcts.N[0, 0].argmax())
    child = int(mcts.child[0, 0, action])
    child_edges_n = mcts.N[0, child].copy()
    child_edges_w = mcts.W[0, child].copy()
    grandchildren = mcts.child[0, child].copy()
    state = mcts.advance(0, action)
    assert game.key(state) == game.key(game.apply(game.initial_state(), action))
    assert np.array_equal(mcts.N[0, 0], child_edges_n)
    assert np.array_equal(mcts.W[0, 0], child_edges_w)
    assert np.array_equal(mcts.child[0, 0] >= 0, grandchildren >= 0)
    visits_before = mcts.N[0, 0].sum()
    mcts.search()
    assert mcts.N[0, 0].sum() == visits_before + 200


def test_advance_by_an_unexpanded_action_starts_fresh():
    mcts, _ = search_once("tictactoe", [[]], num_simulations=1)
    unexpanded = int(np.flatnonzero(mcts.child[0, 0] < 0)[0])
    mcts.advance(0, unexpanded)
    assert mcts.size[0] == 1 and mcts.N[0, 0].sum() == 0


def test_equal_leaves_in_a_batch_are_evaluated_once():
    evaluator = CountingEvaluator()
    search_once("connect4", [[]] * 16, evaluator=evaluator, num_simulations=1)
    # 16 identical roots -> one root evaluation; each slot's first leaf is one
    # of only 7 distinct children.
    assert evaluator.batches[0] == 1
    assert evaluator.batches[1] <= 7


def test_one_evaluator_call_per_simulation_for_all_games():
    evaluator = CountingEvaluator()
    lines = [[0], [1], [2], [3], [4], [5], [6], [0, 0]]
    search_once("connect4", lines, evaluator=evaluator, num_simulations=10)
    assert len(evaluator.batches) == 1 + 10


def test_terminal_nodes_absorb_simulations_without_evaluation():
    evaluator = CountingEvaluator()
    # X to move can win at 2 at once; with 50 simulations the winning edge
    # gets most of them, and a terminal child is never sent to the network.
    mcts, _ = search_once("tictactoe", [[0, 3, 1, 4]], evaluator=evaluator, num_simulations=50)
    child = int(mcts.child[0, 0, 2])
    assert mcts.terminal[0, child]
    assert mcts.W[0, 0, 2] == pytest.approx(mcts.N[0, 0, 2])  # every visit scored a win
    assert sum(evaluator.batches) < 1 + 50


def _othello_forced_pass(seed: int = 0):
    """A real position, reached by random play, where the side to move must pass."""
    game = get_game("othello")
    rng = np.random.default_rng(seed)
    while True:
        state = game.initial_state()
        while not game.is_terminal(state):
            legal = game.legal_actions(state)
            if legal == [64]:
                return state
            state = game.apply(state, int(rng.choice(legal)))


def test_othello_pass_is_searched_when_it_is_the_only_move():
    game = get_game("othello")
    state = _othello_forced_pass()
    mcts = BatchedMcts(game, UniformEvaluator(), SearchConfig(num_simulations=20), num_slots=1,
                       rng=np.random.default_rng(0), add_noise=True)
    mcts.reset(0, state)
    result = mcts.search()
    assert result.visits[0, 64] == pytest.approx(1.0)
    after = mcts.advance(0, 64)
    assert game.to_play(after) != game.to_play(state)


def test_searching_a_finished_game_is_an_error():
    game = get_game("tictactoe")
    mcts = BatchedMcts(game, UniformEvaluator(), SearchConfig(num_simulations=4), num_slots=1,
                       rng=np.random.default_rng(0), add_noise=False)
    mcts.reset(0, game.apply_all([0, 3, 1, 4, 2]))
    assert not mcts.active[0]
    with pytest.raises(ValueError, match="finished"):
        mcts.search(np.array([0]))


# ------------------------------------------------------------ per-slot simulation budgets
def test_each_slot_gets_its_own_budget_on_top_of_reused_visits():
    game = get_game("connect4")
    mcts, _ = search_once("connect4", [[], [3], [3, 3]], num_simulations=40)
    mcts.advance(0, int(mcts.N[0, 0].argmax()))  # slot 0 keeps a subtree with visits
    reused = mcts.N[:, 0].sum(axis=1)
    assert reused[0] > 0
    mcts.reset(1, game.apply_all([2]))  # slot 1 starts fresh
    result = mcts.search(np.array([0, 1, 2]), np.array([40, 5, 17]))
    np.testing.assert_array_equal(mcts.N[:, 0].sum(axis=1) - [reused[0], 0, reused[2]],
                                  [40, 5, 17])
    np.testing.assert_allclose(result.visits.sum(axis=1), 1.0, atol=1e-6)


def test_a_spent_budget_leaves_the_lock_step_and_the_evaluator_batches():
    evaluator = CountingEvaluator()
    game = get_game("connect4")
    mcts = BatchedMcts(game, evaluator, SearchConfig(num_simulations=10), num_slots=3,
                       rng=np.random.default_rng(0), add_noise=False)
    for slot, line in enumerate([[0], [3, 3], [6, 6, 6]]):
        mcts.reset(slot, game.apply_all(line))
    budgets = np.array([2, 5, 10])
    mcts.search(np.arange(3), budgets)
    # One call for the roots, then one per simulation step of the longest budget,
    # each for the slots still going only.
    assert len(evaluator.batches) == 1 + 10
    assert evaluator.batches[0] == 3
    going = [int((budgets > step).sum()) for step in range(10)]
    assert all(0 < size <= n for size, n in zip(evaluator.batches[1:], going, strict=True))
    assert evaluator.batches[1 + 5:] == [1] * 5  # only the 10-budget slot is left


def _fresh(num_slots, seed, **knobs):
    game = get_game("connect4")
    mcts = BatchedMcts(game, UniformEvaluator(), SearchConfig(**knobs), num_slots=num_slots,
                       rng=np.random.default_rng(seed), add_noise=True)
    for slot in range(num_slots):
        mcts.reset(slot, game.apply_all([3] * slot))
    return mcts


def test_no_budgets_is_num_simulations_everywhere():
    plain, explicit = _fresh(2, 4, num_simulations=12), _fresh(2, 4, num_simulations=12)
    a = plain.search()
    b = explicit.search(np.arange(2), np.array([12, 12]))
    np.testing.assert_array_equal(a.visits, b.visits)
    np.testing.assert_array_equal(plain.P[:, 0], explicit.P[:, 0])  # the same noise
    assert plain.N[:, 0].sum() == 2 * 12


def test_only_full_budget_roots_get_noise():
    mcts = _fresh(3, 0, num_simulations=8, dirichlet_epsilon=0.5)
    mcts.search(np.arange(3), np.array([8, 3, 7]))
    legal = mcts.legal[:, 0]
    uniform = legal / legal.sum(axis=1, keepdims=True)
    assert not np.allclose(mcts.P[0, 0], uniform[0])  # the full search: noise
    np.testing.assert_allclose(mcts.P[1:, 0], uniform[1:], atol=1e-6)  # fast ones: none


@pytest.mark.parametrize(("slots", "budgets", "reason"), [
    ([0, 1], [4], "2 slots"),
    ([0, 1], [4, 0], "1..4"),
    ([0, 1], [5, 4], "1..4"),
])
def test_bad_budgets_are_refused(slots, budgets, reason):
    mcts, _ = search_once("tictactoe", [[], [4]], num_simulations=4)
    with pytest.raises(ValueError, match=reason):
        mcts.search(np.array(slots), np.array(budgets))


# ------------------------------------------------------------ every knob has an effect
def _root_visits(**knobs):
    _, result = search_once("connect4", [[3, 3, 2]], num_simulations=100, **knobs)
    return result.visits[0]


def test_num_simulations_sets_the_visit_count():
    mcts, _ = search_once("connect4", [[]], num_simulations=37)
    assert mcts.N[0, 0].sum() == 37


@pytest.mark.parametrize(("knob", "a", "b"), [
    ("c_puct", 0.2, 5.0),
    ("fpu_reduction", 0.0, 1.0),
])
def test_search_knobs_change_the_search(knob, a, b):
    assert not np.allclose(_root_visits(**{knob: a}), _root_visits(**{knob: b}))


@pytest.mark.parametrize(("knob", "a", "b"), [
    ("dirichlet_alpha", 0.03, 10.0),
    ("dirichlet_epsilon", 0.0, 0.5),
])
def test_noise_knobs_change_root_priors(knob, a, b):
    first, _ = search_once("connect4", [[]], num_simulations=2, noise=True, seed=5, **{knob: a})
    second, _ = search_once("connect4", [[]], num_simulations=2, noise=True, seed=5, **{knob: b})
    assert not np.allclose(first.P[0, 0], second.P[0, 0])
    if knob == "dirichlet_epsilon":
        assert np.allclose(first.P[0, 0], 1 / 7)


def test_temperature_schedule_samples_then_plays_greedily():
    rng = np.random.default_rng(0)
    visits = np.tile(np.array([[0.1, 0.6, 0.3]]), (2000, 1))
    early = choose_actions(visits, np.zeros(2000, dtype=int), temp_threshold=5, rng=rng)
    late = choose_actions(visits, np.full(2000, 5), temp_threshold=5, rng=rng)
    frequencies = np.bincount(early, minlength=3) / 2000
    assert np.allclose(frequencies, [0.1, 0.6, 0.3], atol=0.05)
    assert np.all(late == 1)


def test_greedy_choice_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    visits = np.tile(np.array([[0.5, 0.0, 0.5]]), (200, 1))
    picks = choose_actions(visits, np.full(200, 99), temp_threshold=0, rng=rng)
    assert set(picks.tolist()) == {0, 2}


def test_sampling_never_picks_an_unvisited_action():
    rng = np.random.default_rng(1)
    visits = np.tile(np.array([[0.0, 0.5, 0.0, 0.5, 0.0]]), (5000, 1))
    picks = choose_actions(visits, np.zeros(5000, dtype=int), temp_threshold=1, rng=rng)
    assert set(picks.tolist()) == {1, 3}
