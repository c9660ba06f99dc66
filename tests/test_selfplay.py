"""Self-play (cartridge.selfplay) with the uniform evaluator on every game: the records
it writes, whose outcomes, policies and model versions they hold, draining, root
noise in self-play only (never in evaluation-mode search), playout cap
randomization (full searches recorded, fast ones played only), and value targets
mixed with the search's root values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from cartridge.games import Game, get_game
from cartridge.games.registry import GAME_IDS
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMcts, GumbelMcts, SearchConfig, SearchResult, choose_actions
from cartridge.play import answer_positions
from cartridge.players import MctsPlayer
from cartridge.replay.base import GameRecord
from cartridge.selfplay import PlayoutCap, SelfPlay

SIMS = 8


class VersionedUniform(UniformEvaluator):
    """The uniform evaluator, claiming to be a given published model version."""

    def __init__(self, model_version: int) -> None:
        self.model_version = model_version


def make_selfplay(env_id: str, *, games: int = 3, seed: int = 0, evaluator: Any = None,
                  playout_cap: PlayoutCap | None = None, random_opening_plies: int = 0,
                  root_noise_plies: int = -1, **config: Any) -> SelfPlay:
    return SelfPlay(get_game(env_id), evaluator or UniformEvaluator(),
                    SearchConfig(num_simulations=SIMS, **config), concurrent_games=games,
                    actor_id="test-actor", rng=np.random.default_rng(seed),
                    playout_cap=playout_cap or PlayoutCap(),
                    random_opening_plies=random_opening_plies,
                    root_noise_plies=root_noise_plies)


class Recorder:
    """Watches a SelfPlay: every state each slot's game passes through (the initial
    one, then what `mcts.advance` returns), and each search's root visits and root
    priors per slot.

    It wraps the instance's own `advance` and `search`: the wrappers call the real
    methods with the same arguments and only remember what they return, so the search
    and the game being checked are exactly the ones self-play runs."""

    def __init__(self, selfplay: SelfPlay) -> None:
        self.game = selfplay.game
        mcts = selfplay.mcts
        self.states: list[list[Any]] = [[mcts.root_state(s)] for s in range(mcts.num_slots)]
        self.actions: list[list[int]] = [[] for _ in range(mcts.num_slots)]
        self.visits: list[list[np.ndarray]] = [[] for _ in range(mcts.num_slots)]
        self.root_values: list[list[float]] = [[] for _ in range(mcts.num_slots)]
        self.chosen: list[list[int]] = [[] for _ in range(mcts.num_slots)]  # result.actions
        self.uniform_priors: list[bool] = []  # per search and slot: no noise at the root
        self.searches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # slots, budgets,
        # and for each slot whether its root priors are the evaluator's (no noise)
        advance, search = mcts.advance, mcts.search

        def recording_advance(slot: int, action: int) -> Any:
            state = advance(slot, action)
            self.states[slot].append(state)
            self.actions[slot].append(int(action))
            return state

        def recording_search(slots: np.ndarray | None = None,
                             simulations: np.ndarray | None = None,
                             noisy: np.ndarray | None = None) -> SearchResult:
            result = search(slots, simulations, noisy)
            for row, slot in enumerate(result.slots):
                self.visits[int(slot)].append(result.visits[row].copy())
                self.root_values[int(slot)].append(float(result.root_values[row]))
                if result.actions is not None:
                    self.chosen[int(slot)].append(int(result.actions[row]))
            self.uniform_priors.append(uniform_root_priors(mcts, result.slots))
            budgets = (np.full(len(result.slots), mcts.config.num_simulations)
                       if simulations is None else np.asarray(simulations).copy())
            clean = np.array([uniform_root_priors(mcts, np.array([slot]))
                              for slot in result.slots], dtype=bool)
            self.searches.append((result.slots.copy(), budgets, clean))
            return result

        mcts.advance = recording_advance  # type: ignore[method-assign]
        mcts.search = recording_search  # type: ignore[method-assign]

    def slot_of(self, record: GameRecord) -> int:
        """The slot whose game this record is (its observations are that game's)."""
        for slot, states in enumerate(self.states):
            positions = states[:-1]
            if len(positions) == record.num_positions and np.array_equal(
                    self.game.encode_batch(positions), record.observations):
                return slot
        raise AssertionError("the record matches no game played")


def drain(selfplay: SelfPlay, max_steps: int = 1000) -> list[GameRecord]:
    """Play every slot's current game to its end, starting no new ones."""
    records: list[GameRecord] = []
    for _ in range(max_steps):
        if selfplay.games_in_flight == 0:
            return records
        records += selfplay.step(restart_finished=False)
    raise AssertionError(f"games still in flight after {max_steps} steps")


def uniform_root_priors(mcts: BatchedMcts, slots: np.ndarray) -> bool:
    """Whether every given slot's root priors are uniform over its legal moves: what
    the uniform evaluator gives, unless root noise was mixed in."""
    legal = mcts.legal[slots, 0]
    uniform = legal / legal.sum(axis=1, keepdims=True)
    return bool(np.allclose(mcts.P[slots, 0], uniform, atol=1e-6))


def disc_difference(state: Any) -> int:
    """Othello: dark discs minus light discs, counted from the bitboards."""
    mover, other = state.mine.bit_count(), state.theirs.bit_count()
    return mover - other if state.to_play == 0 else other - mover


# ----------------------------------------------------------------------------- records


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
@pytest.mark.parametrize("env_id", GAME_IDS)
def test_records_have_consistent_shapes_and_valid_targets(env_id: str, algorithm: str) -> None:
    game = get_game(env_id)
    selfplay = make_selfplay(env_id, games=2, algorithm=algorithm)
    records: list[GameRecord] = []
    for _ in range(1000):
        records += selfplay.step()
        if len(records) >= 3:
            break
    assert len(records) >= 3
    assert selfplay.games_in_flight == 2  # finished slots restarted at once
    assert len({r.game_id for r in records}) == len(records)
    A = game.num_actions
    for record in records:
        T = record.num_positions
        assert T >= 5  # no game ends sooner
        assert record.env_id == env_id and record.actor_id == "test-actor"
        assert record.observations.shape == (T, *game.observation_shape)
        assert record.observations.dtype == np.float32
        assert record.legal_masks.shape == (T, A) and record.legal_masks.dtype == bool
        assert record.policies.shape == (T, A) and record.policies.dtype == np.float32
        assert record.outcomes.shape == (T,) and record.outcomes.dtype == np.float32
        assert record.model_versions.shape == (T,) and record.model_versions.dtype == np.int64
        assert record.legal_masks.any(axis=1).all()
        np.testing.assert_allclose(record.policies.sum(axis=1), 1.0, atol=1e-5)
        assert (record.policies[~record.legal_masks] == 0).all()
        assert set(np.unique(record.outcomes)) <= {-1.0, 0.0, 1.0}
        # Sides alternate every ply (a pass is a ply), so the outcome flips every ply.
        np.testing.assert_array_equal(record.outcomes[1:], -record.outcomes[:-1])


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_records_are_the_games_played_with_outcomes_for_each_mover(env_id: str) -> None:
    game = get_game(env_id)
    selfplay = make_selfplay(env_id, games=3, seed=1)
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    assert len(records) == 3
    assert sorted(recorder.slot_of(r) for r in records) == [0, 1, 2]
    for record in records:
        slot = recorder.slot_of(record)
        states, actions = recorder.states[slot], recorder.actions[slot]
        final = states[-1]
        assert game.is_terminal(final)
        for before, action, after in zip(states[:-1], actions, states[1:], strict=True):
            assert game.key(game.apply(before, action)) == game.key(after)
            assert game.to_play(after) == 1 - game.to_play(before)
        np.testing.assert_array_equal(record.legal_masks,
                                      game.legal_mask_batch(states[:-1]))
        # The final result, for the side to move at the end; each position gets it
        # from its own mover's point of view.
        value = game.terminal_value(final)
        expected = [value if game.to_play(s) == game.to_play(final) else -value
                    for s in states[:-1]]
        np.testing.assert_array_equal(record.outcomes, np.asarray(expected, np.float32))


def test_othello_outcomes_follow_the_final_disc_count() -> None:
    game = get_game("othello")
    selfplay = make_selfplay("othello", games=4, seed=2)
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    assert len(records) == 4
    for record in records:
        states = recorder.states[recorder.slot_of(record)]
        winner = np.sign(disc_difference(states[-1]))  # +1 dark won, -1 light won, 0 draw
        for t, state in enumerate(states[:-1]):
            mover_sign = 1 if game.to_play(state) == 0 else -1  # dark = first player
            assert record.outcomes[t] == winner * mover_sign, (t, game.to_play(state))


# ---------------------------------------------------------------------------- policies


@pytest.mark.parametrize("temp_threshold", [0, 1000])
def test_policies_are_the_search_visit_distributions(temp_threshold: int) -> None:
    game = get_game("tictactoe")
    selfplay = make_selfplay("tictactoe", games=3, seed=3, temp_threshold=temp_threshold)
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    for record in records:
        visits = np.stack(recorder.visits[recorder.slot_of(record)])
        np.testing.assert_array_equal(record.policies, visits)
    # Not sharpened by the temperature: even where moves are greedy (threshold 0) the
    # target of the first position spreads over several moves, as its visits do.
    first = records[0].policies[0]
    assert (first > 0).sum() > 1
    assert first.max() < 1.0
    assert game.num_actions == first.shape[0]


def test_gumbel_plays_the_search_moves_and_stores_the_improved_policies() -> None:
    selfplay = make_selfplay("tictactoe", games=3, seed=3, algorithm="gumbel")
    assert isinstance(selfplay.mcts, GumbelMcts) and selfplay.mcts.add_noise is True
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    assert len(records) == 3
    for record in records:
        slot = recorder.slot_of(record)
        assert recorder.actions[slot] == recorder.chosen[slot]
        np.testing.assert_array_equal(record.policies, np.stack(recorder.visits[slot]))
    # Gumbel noise explores: the three games are not all the same game.
    assert len({tuple(actions) for actions in recorder.actions}) > 1


# ------------------------------------------------------------------------ model versions


def test_model_versions_follow_the_evaluator_and_change_after_a_hot_swap() -> None:
    selfplay = make_selfplay("tictactoe", games=2, evaluator=VersionedUniform(3))
    before = 2
    for _ in range(before):
        assert selfplay.step(restart_finished=False) == []  # tic-tac-toe lasts 5+ plies
    newer = VersionedUniform(4)
    selfplay.set_evaluator(newer)
    assert selfplay.evaluator is newer
    records = drain(selfplay)
    assert len(records) == 2
    for record in records:
        expected = [3] * before + [4] * (record.num_positions - before)
        np.testing.assert_array_equal(record.model_versions, expected)


# ------------------------------------------------------------------------------ draining


def test_step_without_restart_drains_every_game_once() -> None:
    selfplay = make_selfplay("connect4", games=3, seed=4)
    records = drain(selfplay)
    assert len(records) == 3
    assert selfplay.games_in_flight == 0
    assert selfplay.positions_played == sum(r.num_positions for r in records)
    assert selfplay.step(restart_finished=False) == []
    assert selfplay.step() == []  # nothing is left to restart
    assert selfplay.games_in_flight == 0


# ---------------------------------------------------------------------------- root noise


def test_selfplay_searches_with_root_noise() -> None:
    selfplay = make_selfplay("tictactoe", games=2, dirichlet_epsilon=0.5)
    assert selfplay.mcts.add_noise is True
    recorder = Recorder(selfplay)
    for _ in range(4):
        selfplay.step()
    # The uniform evaluator's priors are uniform; only noise makes the root's differ.
    assert recorder.uniform_priors == [False] * 4


@pytest.fixture
def created_searches(monkeypatch: pytest.MonkeyPatch) -> list[BatchedMcts]:
    """Every BatchedMcts built while the test runs.

    A light monkeypatch, and fine: the wrapper runs the real __init__ with the same
    arguments and only keeps a reference to the instance, so callers build, search
    and choose exactly as they do in production; it lets the test look at the
    `add_noise` flag and the root priors of searches that live inside a function."""
    created: list[BatchedMcts] = []
    real_init: Callable[..., None] = BatchedMcts.__init__

    def recording_init(self: BatchedMcts, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(BatchedMcts, "__init__", recording_init)
    return created


NOISY = SearchConfig(num_simulations=SIMS, dirichlet_epsilon=1.0)  # noise would be all


def _check_no_noise(created: list[BatchedMcts], algorithm: str) -> None:
    assert created
    for mcts in created:
        assert type(mcts) is (GumbelMcts if algorithm == "gumbel" else BatchedMcts)
        assert mcts.add_noise is False
        assert uniform_root_priors(mcts, np.arange(mcts.num_slots))


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
def test_mcts_player_searches_without_noise(created_searches: list[BatchedMcts],
                                            algorithm: str) -> None:
    game: Game = get_game("connect4")
    player = MctsPlayer(game, UniformEvaluator(), replace(NOISY, algorithm=algorithm),
                        np.random.default_rng(0))
    states = [game.initial_state(), game.apply_all([3, 3, 2])]
    actions = player.choose(states)
    assert len(actions) == 2
    _check_no_noise(created_searches, algorithm)


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
def test_cartridge_move_searches_without_noise(created_searches: list[BatchedMcts],
                                               algorithm: str) -> None:
    game = get_game("tictactoe")
    answers = answer_positions(game, UniformEvaluator(), replace(NOISY, algorithm=algorithm),
                               [[], [4, 0]], np.random.default_rng(0))
    assert [a.actions for a in answers] == [[], [4, 0]]
    _check_no_noise(created_searches, algorithm)


def test_the_prior_check_sees_root_noise() -> None:
    """The priors check above fails for a search that mixes in noise, so it can fail."""
    game = get_game("tictactoe")
    mcts = BatchedMcts(game, UniformEvaluator(), NOISY, num_slots=1,
                       rng=np.random.default_rng(0), add_noise=True)
    mcts.reset(0, game.initial_state())
    mcts.search()
    assert not uniform_root_priors(mcts, np.arange(1))


# ------------------------------------------------------- root noise on the first plies only


@pytest.mark.parametrize("noise_plies", [0, 3])
def test_root_noise_only_on_the_first_root_noise_plies(noise_plies: int) -> None:
    game = get_game("connect4")
    selfplay = make_selfplay("connect4", games=6, seed=3, dirichlet_epsilon=0.5,
                             root_noise_plies=noise_plies)
    recorder = Recorder(selfplay)
    drain(selfplay)
    plies = np.zeros(6, dtype=int)  # no opening: a slot's n-th search is its ply n
    for slots, _, clean in recorder.searches:
        for slot, no_noise in zip(slots, clean, strict=True):
            state = recorder.states[slot][plies[slot]]
            if len(game.legal_actions(state)) > 1:  # noise shows
                assert no_noise == (plies[slot] >= noise_plies), (slot, plies[slot])
            plies[slot] += 1


def test_root_noise_counts_the_random_opening_plies() -> None:
    selfplay = make_selfplay("connect4", games=16, seed=4, dirichlet_epsilon=0.5,
                             random_opening_plies=5, root_noise_plies=3)
    recorder = Recorder(selfplay)
    selfplay.step()
    _, _, clean = recorder.searches[0]
    expected = selfplay.plies - 1 >= 3  # each game's ply before this move
    np.testing.assert_array_equal(clean, expected)
    assert expected.any() and not expected.all()


def gumbel_games(root_noise_plies: int, seed: int) -> list[list[int]]:
    selfplay = make_selfplay("connect4", games=4, seed=seed, algorithm="gumbel",
                             root_noise_plies=root_noise_plies)
    recorder = Recorder(selfplay)
    drain(selfplay)
    return recorder.actions


def test_gumbel_self_play_without_root_noise_plays_the_same_games_from_any_seed() -> None:
    assert gumbel_games(0, seed=1) == gumbel_games(0, seed=2)
    assert gumbel_games(-1, seed=1) != gumbel_games(-1, seed=2)  # the noise explores


def test_root_noise_plies_below_minus_one_are_refused() -> None:
    with pytest.raises(ValueError, match="root_noise_plies must be >= -1"):
        make_selfplay("connect4", root_noise_plies=-2)


# -------------------------------------------------------------- playout cap randomization


def make_capped(env_id: str, fraction: float, fast: int, **kwargs: Any) -> SelfPlay:
    return make_selfplay(env_id, playout_cap=PlayoutCap(full_search_fraction=fraction,
                                                        fast_simulations=fast), **kwargs)


def moves_by_slot(recorder: Recorder) -> list[list[tuple[int, bool]]]:
    """Per slot, each move's (budget, whether its root priors were free of noise), in order."""
    moves: list[list[tuple[int, bool]]] = [[] for _ in recorder.states]
    for slots, budgets, clean in recorder.searches:
        for slot, budget, no_noise in zip(slots, budgets, clean, strict=True):
            moves[int(slot)].append((int(budget), bool(no_noise)))
    return moves


def plain_selfplay(env_id: str, games: int, seed: int) -> list[list[np.ndarray]]:
    """Self-play as it was before playout caps: every move searched in full, every
    position recorded. Per slot, the observation and policy of each position."""
    game = get_game(env_id)
    rng = np.random.default_rng(seed)
    config = SearchConfig(num_simulations=SIMS)
    mcts = BatchedMcts(game, UniformEvaluator(), config, num_slots=games, rng=rng,
                       add_noise=True)
    for slot in range(games):
        mcts.reset(slot, game.initial_state())
    plies = np.zeros(games, dtype=np.int64)
    played: list[list[np.ndarray]] = [[] for _ in range(games)]
    while mcts.active.any():
        result = mcts.search()
        actions = choose_actions(result.visits, plies[result.slots], config.temp_threshold, rng)
        for row, slot in enumerate(result.slots):
            root = mcts.root_state(int(slot))
            played[slot].append(np.concatenate([game.encode(root).ravel(), result.visits[row]]))
            plies[slot] += 1
            if game.is_terminal(mcts.advance(int(slot), int(actions[row]))):
                mcts.release(int(slot))
    return played


def test_fraction_one_records_exactly_what_self_play_recorded_before() -> None:
    selfplay = make_capped("connect4", 1.0, 2, games=4, seed=6)
    records = drain(selfplay)
    recorded = sorted(np.concatenate([r.observations.reshape(r.num_positions, -1),
                                      r.policies], axis=1).tobytes() for r in records)
    before = sorted(np.stack(positions).astype(np.float32).tobytes()
                    for positions in plain_selfplay("connect4", 4, seed=6))
    assert recorded == before
    assert selfplay.fast_moves == 0


def test_a_quarter_of_moves_are_searched_in_full_and_only_those_recorded() -> None:
    game = get_game("connect4")
    selfplay = make_capped("connect4", 0.25, 2, games=16, seed=5)
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    moves = moves_by_slot(recorder)
    total = sum(len(m) for m in moves)
    full = sum(budget == SIMS for m in moves for budget, _ in m)
    assert {budget for m in moves for budget, _ in m} == {SIMS, 2}
    assert selfplay.positions_played == full == sum(r.num_positions for r in records)
    assert selfplay.fast_moves == total - full
    assert selfplay.games_finished == 16
    assert 0.15 < full / total < 0.35, (full, total)  # seeded: the same count every run
    by_observations = {}
    for slot, slot_moves in enumerate(moves):
        rows = [i for i, (budget, _) in enumerate(slot_moves) if budget == SIMS]
        if rows:
            states = recorder.states[slot]
            observations = game.encode_batch([states[i] for i in rows]).astype(np.float32)
            by_observations[observations.tobytes()] = (slot, rows)
    assert len(records) == len(by_observations)
    for record in records:
        slot, rows = by_observations[record.observations.tobytes()]
        np.testing.assert_array_equal(record.policies,
                                      np.stack([recorder.visits[slot][i] for i in rows]))
        final = recorder.states[slot][-1]
        value = game.terminal_value(final)
        expected = [value if game.to_play(recorder.states[slot][i]) == game.to_play(final)
                    else -value for i in rows]
        np.testing.assert_array_equal(record.outcomes, np.asarray(expected, np.float32))


def test_fast_moves_have_no_root_noise_and_take_the_most_visited_move() -> None:
    game = get_game("connect4")
    selfplay = make_capped("connect4", 0.25, 3, games=8, seed=7, temp_threshold=1000,
                           dirichlet_epsilon=0.5)
    recorder = Recorder(selfplay)
    drain(selfplay)
    greedy: dict[bool, list[bool]] = {True: [], False: []}  # fast -> took a most visited move
    for slot, slot_moves in enumerate(moves_by_slot(recorder)):
        for i, (budget, no_noise) in enumerate(slot_moves):
            fast = budget == 3
            if len(game.legal_actions(recorder.states[slot][i])) > 1:  # noise shows
                assert no_noise == fast, (slot, i, budget)
            visits = recorder.visits[slot][i]
            greedy[fast].append(bool(visits[recorder.actions[slot][i]] == visits.max()))
    assert greedy[True] and all(greedy[True])
    assert not all(greedy[False])  # full moves sample at temperature 1 (threshold 1000)


def test_a_game_with_only_fast_moves_is_counted_but_never_recorded() -> None:
    selfplay = make_capped("tictactoe", 0.05, 2, games=12, seed=8)
    records = drain(selfplay)
    assert selfplay.games_finished == 12
    assert 0 < len(records) < 12
    assert all(r.num_positions >= 1 for r in records)


class CountingUniform(UniformEvaluator):
    def __init__(self) -> None:
        self.calls = 0
        self.positions = 0

    def evaluate(self, observations: np.ndarray, legal_masks: np.ndarray) -> Any:
        self.calls += 1
        self.positions += len(observations)
        return super().evaluate(observations, legal_masks)


def test_playout_caps_finish_many_more_games_per_evaluated_position() -> None:
    per_position = {}
    for fraction in (1.0, 0.25):
        evaluator = CountingUniform()
        selfplay = make_capped("connect4", fraction, 2, games=16, seed=9, evaluator=evaluator)
        drain(selfplay)
        per_position[fraction] = selfplay.games_finished / evaluator.positions
    # Fast moves cost 2 simulations instead of 8: about 8 / (0.25 * 8 + 0.75 * 2) = 2.3x.
    assert per_position[0.25] > 1.8 * per_position[1.0], per_position


def test_bad_playout_caps_are_refused() -> None:
    with pytest.raises(ValueError, match="full_search_fraction"):
        PlayoutCap(full_search_fraction=0.0)
    with pytest.raises(ValueError, match="full_search_fraction"):
        PlayoutCap(full_search_fraction=1.5)
    with pytest.raises(ValueError, match="fast_simulations"):
        PlayoutCap(fast_simulations=0)
    with pytest.raises(ValueError, match="fast_simulations"):
        make_capped("tictactoe", 0.5, SIMS)  # as long as a full search: not a fast one
    make_capped("tictactoe", 1.0, SIMS + 1)  # off: the fast budget is never used


# ------------------------------------------------------------------------ value targets


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
@pytest.mark.parametrize("weight", [0.5, 1.0])
def test_value_targets_mix_the_result_with_the_root_values(weight: float,
                                                           algorithm: str) -> None:
    game = get_game("tictactoe")
    selfplay = make_selfplay("tictactoe", games=6, seed=10, algorithm=algorithm)
    selfplay.search_value_weight = weight
    recorder = Recorder(selfplay)
    records = drain(selfplay)
    assert len(records) == 6
    moved = 0  # targets that are not the plain result
    for record in records:
        slot = recorder.slot_of(record)
        states, final = recorder.states[slot], recorder.states[slot][-1]
        value = game.terminal_value(final)
        results = np.asarray([value if game.to_play(s) == game.to_play(final) else -value
                              for s in states[:-1]], np.float32)
        searched = np.asarray(recorder.root_values[slot], np.float32)
        np.testing.assert_allclose(record.outcomes,
                                   (1 - weight) * results + weight * searched, atol=1e-6)
        assert (np.abs(record.outcomes) <= 1).all()
        moved += int(np.count_nonzero(record.outcomes != results))
    # Searches that reach won or lost endings move the root value off the uniform
    # evaluator's 0, so some mixed targets differ from the results.
    assert moved > 0


def test_weight_zero_keeps_the_results() -> None:
    records = drain(make_selfplay("connect4", games=3, seed=11))
    assert all(set(np.unique(r.outcomes)) <= {-1.0, 0.0, 1.0} for r in records)


def test_a_weight_outside_zero_to_one_is_refused() -> None:
    for weight in (-0.1, 1.5):
        with pytest.raises(ValueError, match="search_value_weight"):
            SelfPlay(get_game("tictactoe"), UniformEvaluator(), SearchConfig(num_simulations=SIMS),
                     concurrent_games=1, actor_id="a", rng=np.random.default_rng(0),
                     search_value_weight=weight)


# ----------------------------------------------------------------------- random openings


def stones(state: Any) -> int:
    """Connect Four: discs on the board, the plies played to reach `state`."""
    return int(state.occupied).bit_count()


def test_random_openings_start_games_after_up_to_n_random_unrecorded_moves() -> None:
    game = get_game("connect4")
    selfplay = make_selfplay("connect4", games=40, seed=12, random_opening_plies=6)
    recorder = Recorder(selfplay)
    starts = [stones(states[0]) for states in recorder.states]
    assert starts == [int(p) for p in selfplay.plies]
    # Every length from 0 to 6 is drawn (40 draws of 7 equally likely values), none longer.
    assert set(starts) == set(range(7))
    records = drain(selfplay)
    assert len(records) == 40
    for record in records:
        states = recorder.states[recorder.slot_of(record)]
        # The record starts at the opening's last state, a live game, and is the whole
        # game from there: its first observation shows the random discs.
        assert not game.is_terminal(states[0])
        assert record.num_positions == len(states) - 1
        np.testing.assert_array_equal(record.observations[0], game.encode(states[0]))


def test_without_random_openings_every_game_starts_at_the_initial_state() -> None:
    selfplay = make_selfplay("connect4", games=8, seed=12)
    assert selfplay.random_opening_plies == 0
    recorder = Recorder(selfplay)
    assert all(stones(states[0]) == 0 for states in recorder.states)
    records = drain(selfplay)
    for record in records:
        assert not record.observations[0].any()  # the empty board


def test_a_random_opening_stops_before_a_move_that_ends_the_game() -> None:
    # Tic-tac-toe ends by the 9th ply at the latest: openings of up to 30 random moves
    # stop before the ending move, so every game starts live and is played to its end.
    game = get_game("tictactoe")
    selfplay = make_selfplay("tictactoe", games=30, seed=13, random_opening_plies=30)
    recorder = Recorder(selfplay)
    assert all(not game.is_terminal(states[0]) for states in recorder.states)
    assert max(int(p) for p in selfplay.plies) >= 5  # some openings ran long
    assert all(int(p) <= 8 for p in selfplay.plies)
    records = drain(selfplay)
    assert len(records) == 30
    assert all(record.num_positions >= 1 for record in records)


def test_negative_random_opening_plies_are_refused() -> None:
    with pytest.raises(ValueError, match="random_opening_plies"):
        make_selfplay("tictactoe", games=1, random_opening_plies=-1)
