"""Gumbel search (cartridge.mcts.gumbel): the halving schedule, batching and per-slot
budgets, tactics against PUCT at small budgets, the improved-policy target, evaluation
determinism, tree reuse, the config keys and the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMcts, GumbelMcts, SearchConfig, make_search
from cartridge.mcts.config import ALGORITHMS
from cartridge.mcts.factory import SEARCHES
from cartridge.mcts.gumbel import halving_schedule, top_k
from cartridge.play import answer_positions
from cartridge.players import MctsPlayer

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
TICTACTOE_LINES = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7],
                            [2, 5, 8], [0, 4, 8], [2, 4, 6]])


class CountingEvaluator(UniformEvaluator):
    """Uniform, and records the size of every batch it is asked to evaluate."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def evaluate(self, observations, legal_masks):
        self.batches.append(len(observations))
        return super().evaluate(observations, legal_masks)


class DecoyTacticsEvaluator:
    """Tic-tac-toe, deterministic: a player that sees its own wins in one but not the
    opponent's, and otherwise is drawn to the centre.

    Prior: `focus` (0.9) spread over the cells that win at once, or else over the centre
    when it is free; the rest spread evenly over the other legal moves. Value: +1 when
    the side to move can win at once, else 0."""

    model_version = 0
    focus = 0.9

    def evaluate(self, observations, legal_masks):
        cells = observations.reshape(len(observations), 2, 9)
        mine, theirs = cells[:, 0], cells[:, 1]
        open_line = (mine[:, TICTACTOE_LINES].sum(axis=2) == 2) & (
            theirs[:, TICTACTOE_LINES].sum(axis=2) == 0)  # [B, 8]
        wins = np.zeros(legal_masks.shape, dtype=bool)
        for line in range(len(TICTACTOE_LINES)):
            wins[:, TICTACTOE_LINES[line]] |= open_line[:, line, None]
        wins &= legal_masks
        centre = np.zeros(legal_masks.shape, dtype=bool)
        centre[:, 4] = legal_masks[:, 4]
        focus = np.where(wins.any(axis=1, keepdims=True), wins, centre)
        rest = legal_masks & ~focus
        weight = np.where(rest.any(axis=1, keepdims=True), self.focus, 1.0)
        weight = np.where(focus.any(axis=1, keepdims=True), weight, 0.0)
        priors = (weight * focus / np.maximum(focus.sum(axis=1, keepdims=True), 1)
                  + (1 - weight) * rest / np.maximum(rest.sum(axis=1, keepdims=True), 1))
        return priors.astype(np.float32), wins.any(axis=1).astype(np.float32)


def search(env_id, lines, *, evaluator=None, noise=False, seed=0, simulations=None, noisy=None,
           **knobs):
    game = get_game(env_id)
    config = SearchConfig(**{"algorithm": "gumbel", **knobs})
    mcts = make_search(game, evaluator or UniformEvaluator(), config, num_slots=len(lines),
                       rng=np.random.default_rng(seed), add_noise=noise)
    for slot, actions in enumerate(lines):
        mcts.reset(slot, game.apply_all(actions))
    return mcts, mcts.search(simulations=simulations, noisy=noisy)


def puct_choice(env_id, actions, evaluator, budget):
    _, result = search(env_id, [actions], evaluator=evaluator, algorithm="puct",
                       num_simulations=budget)
    return int(result.visits[0].argmax())


def gumbel_choice(env_id, actions, evaluator, budget):
    _, result = search(env_id, [actions], evaluator=evaluator, num_simulations=budget)
    return int(result.actions[0])


# ------------------------------------------------------------------- sequential halving
def test_halving_schedule_splits_the_budget_into_equal_visit_phases():
    survivors, ends = halving_schedule(np.array([16, 5, 1, 2]), np.array([200, 8, 4, 3]))
    # m = 16, n = 200: 4 phases of 16, 8, 4, 2 actions; 3, 6, 12 visits each, the rest last.
    assert survivors[0].tolist() == [16, 8, 4, 2]
    assert ends[0].tolist() == [48, 96, 144, 200]
    # m = 5, n = 8: one visit each in phase one (5), three survivors share the rest.
    assert survivors[1, :3].tolist() == [5, 3, 2] and ends[1, :3].tolist() == [5, 8, 8]
    # m = 1 and m = 2: a single phase takes the whole budget.
    assert survivors[2, 0] == 1 and ends[2, 0] == 4
    assert survivors[3, 0] == 2 and ends[3, 0] == 3


def test_top_k_keeps_the_best_finite_scores_per_row():
    scores = np.array([[0.5, -np.inf, 2.0, 1.0], [3.0, 3.0, -np.inf, -np.inf]])
    kept = top_k(scores, np.array([2, 3]))
    assert kept.tolist() == [[False, False, True, True], [True, True, False, False]]


def test_root_visits_follow_the_halving_schedule():
    # Connect Four's opening, m = 7 considered of 7, n = 40: phases of 7, 4, 2 actions
    # with 1, 3, then the rest (40 - 7 - 12 = 21) visits: the winner has 1 + 3 + 10 or 11.
    mcts, result = search("connect4", [[]], num_simulations=40)
    visits = np.sort(mcts.N[0, 0])[::-1]
    assert visits.sum() == 40
    assert visits.tolist() == [15, 14, 4, 4, 1, 1, 1]
    assert mcts.N[0, 0, result.actions[0]] >= 14


# ---------------------------------------------------------------------------- batching
def test_one_evaluator_call_per_simulation_step_for_all_games():
    evaluator = CountingEvaluator()
    lines = [[0], [1], [2], [3], [4], [5], [6], [0, 0]]
    search("connect4", lines, evaluator=evaluator, num_simulations=10)
    assert len(evaluator.batches) == 1 + 10
    assert max(evaluator.batches) > 1  # the games were served together


def test_per_slot_budgets_are_respected_in_one_batched_search():
    evaluator = CountingEvaluator()
    budgets = np.array([1, 4, 10, 7])
    mcts, result = search("connect4", [[], [3], [3, 3], [0, 1, 2]], evaluator=evaluator,
                          num_simulations=10, simulations=budgets)
    assert mcts.N[result.slots, 0].sum(axis=1).tolist() == budgets.tolist()
    assert len(evaluator.batches) == 1 + budgets.max()
    for row in range(4):
        assert mcts.N[row, 0, result.actions[row]] > 0  # the move was searched


@pytest.mark.parametrize("bad", [[0, 3], [3, 11], [3]])
def test_bad_per_slot_budgets_are_refused(bad):
    game = get_game("connect4")
    mcts = GumbelMcts(game, UniformEvaluator(), SearchConfig(num_simulations=10), num_slots=2,
                      rng=np.random.default_rng(0), add_noise=False)
    mcts.reset(0, game.initial_state())
    mcts.reset(1, game.initial_state())
    with pytest.raises(ValueError, match="simulation budgets"):
        mcts.search(simulations=np.array(bad))


# ----------------------------------------------------------------------------- tactics
# X (6, 7) to move wins at 8: the last of five legal moves in action order.
WIN_LINE, WIN = [6, 0, 7, 1], 8
# O to move must block X's 6-7-8 at 8; the prior pushes the centre.
BLOCK_LINE, BLOCK = [6, 0, 7], 8


def test_finds_a_win_in_one_at_small_budgets_where_puct_does_not():
    budgets = range(2, 17)
    gumbel = {n: gumbel_choice("tictactoe", WIN_LINE, UniformEvaluator(), n) for n in budgets}
    puct = {n: puct_choice("tictactoe", WIN_LINE, UniformEvaluator(), n) for n in budgets}
    # Five legal moves: from five simulations on, every one has been tried once.
    assert all(gumbel[n] == WIN for n in budgets if n >= 5)
    puct_misses = [n for n in budgets if n >= 5 and puct[n] != WIN]
    assert len(puct_misses) >= 3, puct


def test_blocks_a_loss_in_one_despite_a_confident_wrong_prior_where_puct_does_not():
    evaluator = DecoyTacticsEvaluator()
    budgets = range(6, 17)  # six legal moves
    gumbel = {n: gumbel_choice("tictactoe", BLOCK_LINE, evaluator, n) for n in budgets}
    puct = {n: puct_choice("tictactoe", BLOCK_LINE, evaluator, n) for n in budgets}
    assert all(choice == BLOCK for choice in gumbel.values()), gumbel
    assert sum(choice != BLOCK for choice in puct.values()) >= len(budgets) // 2, puct


def test_the_decoy_evaluator_sees_the_threat():
    """The block test's evaluator: the centre is favoured over the block, and a win in
    one is seen by the prior and the value."""
    game = get_game("tictactoe")
    states = [game.apply_all(BLOCK_LINE), game.apply_all([*BLOCK_LINE, 4])]
    priors, values = DecoyTacticsEvaluator().evaluate(game.encode_batch(states),
                                                      game.legal_mask_batch(states))
    assert priors[0].argmax() == 4 and priors[0, BLOCK] == pytest.approx(0.02)
    assert values.tolist() == [0.0, 1.0]  # after O's centre, X wins at 8 ...
    assert priors[1].argmax() == BLOCK  # ... and knows it
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, rtol=1e-6)


# ---------------------------------------------------------------------- policy target
@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_improved_policy_sums_to_one_over_legal_actions(env_id):
    game = get_game(env_id)
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(6):
        state, actions = game.initial_state(), []
        for _ in range(rng.integers(0, 6)):
            actions.append(int(rng.choice(game.legal_actions(state))))
            state = game.apply(state, actions[-1])
            if game.is_terminal(state):
                actions.pop()
                break
        lines.append(actions)
    _, result = search(env_id, lines, num_simulations=16, noise=True)
    for row, actions in enumerate(lines):
        mask = game.legal_mask(game.apply_all(actions))
        assert result.visits[row].sum() == pytest.approx(1.0, abs=1e-5)
        assert np.all(result.visits[row][~mask] == 0)
        assert mask[result.actions[row]]


def test_improved_policy_moves_mass_to_the_better_action():
    evaluator = DecoyTacticsEvaluator()
    game = get_game("tictactoe")
    state = game.apply_all(BLOCK_LINE)
    prior, _ = evaluator.evaluate(game.encode_batch([state]), game.legal_mask_batch([state]))
    _, result = search("tictactoe", [BLOCK_LINE], evaluator=evaluator, num_simulations=8)
    policy = result.visits[0]
    # The block (prior 0.02) against the decoy centre (prior 0.9, loses at once).
    assert prior[0, BLOCK] < prior[0, 4]
    assert policy[BLOCK] > prior[0, BLOCK]
    assert policy[BLOCK] > policy[4]
    assert policy[BLOCK] / policy[4] > prior[0, BLOCK] / prior[0, 4]


def test_policy_target_is_not_the_visit_distribution():
    mcts, result = search("tictactoe", [WIN_LINE], num_simulations=8)
    visits = mcts.N[0, 0] / mcts.N[0, 0].sum()
    assert not np.allclose(result.visits[0], visits)
    assert result.visits[0, WIN] > visits[WIN]


# ------------------------------------------------------------------------------- noise
def test_evaluation_mode_is_deterministic_and_self_play_is_not():
    lines = [[], [3], [3, 3], [2, 4], [0, 6, 1]]
    first = search("connect4", lines, num_simulations=12, seed=1)[1]
    second = search("connect4", lines, num_simulations=12, seed=2)[1]
    np.testing.assert_array_equal(first.actions, second.actions)
    np.testing.assert_array_equal(first.visits, second.visits)
    noisy = [search("connect4", lines, num_simulations=12, seed=s, noise=True)[1].actions
             for s in (1, 2, 3)]
    assert any(not np.array_equal(noisy[0], other) for other in noisy[1:])


def test_no_dirichlet_noise_touches_the_priors():
    mcts, _ = search("connect4", [[]], num_simulations=4, noise=True, dirichlet_epsilon=1.0)
    assert np.allclose(mcts.P[0, 0], 1 / 7)


# -------------------------------------------------------------------------- tree reuse
def test_tree_reuse_keeps_the_subtree_and_adds_the_budget():
    game = get_game("connect4")
    mcts, result = search("connect4", [[]], num_simulations=40)
    action = int(result.actions[0])
    child = int(mcts.child[0, 0, action])
    kept = mcts.N[0, child].copy()
    state = mcts.advance(0, action)
    assert game.key(state) == game.key(game.apply(game.initial_state(), action))
    assert np.array_equal(mcts.N[0, 0], kept) and kept.sum() > 0
    mcts.search()
    assert mcts.N[0, 0].sum() == kept.sum() + 40


# ------------------------------------------------------------------------ every knob
def _policy(**knobs):
    return search("tictactoe", [BLOCK_LINE], evaluator=DecoyTacticsEvaluator(),
                  num_simulations=8, **knobs)[1].visits[0]


@pytest.mark.parametrize(("knob", "a", "b"), [
    ("gumbel_c_visit", 0.0, 20.0),
    ("gumbel_c_scale", 0.05, 1.0),
])
def test_sigma_knobs_change_the_policy_target(knob, a, b):
    assert not np.allclose(_policy(**{knob: a}), _policy(**{knob: b}), atol=1e-3)


def test_considered_bounds_the_root_actions_searched():
    few, _ = search("connect4", [[]], num_simulations=30, gumbel_considered=2)
    many, _ = search("connect4", [[]], num_simulations=30, gumbel_considered=16)
    assert (few.N[0, 0] > 0).sum() == 2
    assert (many.N[0, 0] > 0).sum() == 7


@pytest.mark.parametrize(("key", "value"), [
    ("algorithm", "alphabeta"),
    ("gumbel_considered", 0),
    ("gumbel_c_visit", -1.0),
    ("gumbel_c_scale", 0.0),
])
def test_bad_values_are_refused_naming_the_key(key, value):
    with pytest.raises(ValueError, match=rf"{key} must .*{value!r}"):
        SearchConfig(**{key: value})


# ---------------------------------------------------------------------------- factory
@pytest.mark.parametrize(("algorithm", "expected"), [("puct", BatchedMcts),
                                                     ("gumbel", GumbelMcts)])
def test_factory_builds_the_configured_search(algorithm, expected):
    mcts = make_search(get_game("tictactoe"), UniformEvaluator(),
                       SearchConfig(algorithm=algorithm), num_slots=2,
                       rng=np.random.default_rng(0), add_noise=False)
    assert type(mcts) is expected
    assert mcts.num_slots == 2 and mcts.add_noise is False


def test_every_algorithm_has_a_search():
    assert set(SEARCHES) == set(ALGORITHMS)


# ------------------------------------------------------------------- evaluation callers
GUMBEL = SearchConfig(algorithm="gumbel", num_simulations=8)


def test_mcts_player_plays_the_halving_winner():
    game = get_game("tictactoe")
    states = [game.apply_all(WIN_LINE), game.initial_state()]
    expected = search("tictactoe", [WIN_LINE, []], num_simulations=8)[1].actions.tolist()
    assert MctsPlayer(game, UniformEvaluator(), GUMBEL,
                      np.random.default_rng(0)).choose(states) == expected
    assert expected[0] == WIN


def test_answer_positions_reports_the_halving_winner_and_improved_policy():
    game = get_game("tictactoe")
    _, result = search("tictactoe", [WIN_LINE], num_simulations=8)
    answer, = answer_positions(game, UniformEvaluator(), GUMBEL, [WIN_LINE],
                               np.random.default_rng(0))
    assert answer.action == int(result.actions[0]) == WIN
    np.testing.assert_allclose(answer.policy, result.visits[0])


def test_the_root_value_is_the_improved_policys_not_the_mean_over_visits():
    # X wins at once; sequential halving still visits the other four moves, whose
    # searches read near level: their mean says little of a won position.
    mcts, result = search("tictactoe", [WIN_LINE], num_simulations=64)
    visits, totals = mcts.N[0, 0], mcts.W[0, 0]
    assert (visits > 0).sum() == 5 and totals[WIN] == visits[WIN]  # every win visit +1
    assert (mcts.value[0, 0] + totals.sum()) / (1 + visits.sum()) < 0.7
    assert result.visits[0, WIN] > 0.99  # the improved policy
    assert result.root_values[0] == pytest.approx(1.0, abs=0.01)


def test_the_keys_come_from_the_settings_with_documented_defaults():
    defaults = SearchConfig.from_settings(load_settings(CONFIG, environ={}).mcts)
    assert (defaults.algorithm, defaults.gumbel_considered, defaults.gumbel_c_visit,
            defaults.gumbel_c_scale) == ("gumbel", 16, 50.0, 1.0)
    chosen = SearchConfig.from_settings(load_settings(CONFIG, environ={
        "CARTRIDGE_MCTS_ALGORITHM": "puct", "CARTRIDGE_MCTS_GUMBEL_CONSIDERED": "4",
        "CARTRIDGE_MCTS_GUMBEL_C_VISIT": "30", "CARTRIDGE_MCTS_GUMBEL_C_SCALE": "0.5"}).mcts)
    assert (chosen.algorithm, chosen.gumbel_considered, chosen.gumbel_c_visit,
            chosen.gumbel_c_scale) == ("puct", 4, 30.0, 0.5)


def test_gumbel_noise_only_at_full_budget_roots():
    """A smaller budget is a playout-cap fast search: no noise, the same move every time."""
    runs = [search("connect4", [[], []], num_simulations=12, noise=True, seed=seed,
                   simulations=np.array([12, 4]))[1].actions for seed in range(6)]
    assert len({int(actions[1]) for actions in runs}) == 1
    assert len({int(actions[0]) for actions in runs}) > 1


def test_gumbel_noise_only_at_the_roots_marked_noisy():
    """Self-play past root_noise_plies: a full search without noise, the same move every
    time, beside one with noise; without add_noise (evaluation) no root is ever noised."""
    marks = np.array([False, True])
    runs = [search("connect4", [[], []], num_simulations=12, noise=True, seed=seed,
                   noisy=marks)[1].actions for seed in range(6)]
    assert len({int(actions[0]) for actions in runs}) == 1
    assert len({int(actions[1]) for actions in runs}) > 1
    evaluation = [search("connect4", [[]], num_simulations=12, seed=seed,
                         noisy=np.array([True]))[1].actions for seed in range(4)]
    assert len({int(actions[0]) for actions in evaluation}) == 1


def test_noise_flags_must_match_the_slots():
    with pytest.raises(ValueError, match="1 noise flags for 2 slots"):
        search("connect4", [[], []], num_simulations=4, noise=True, noisy=np.array([True]))
