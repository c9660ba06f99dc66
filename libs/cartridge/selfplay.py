"""Self-play: many concurrent games advanced one move at a time by one batched search.

`SelfPlay.step()` searches every game once (root noise on), picks each move
(PUCT: the temperature schedule over visits; Gumbel: the search's own choice),
records (observation, legal mask, policy target, model version) for the position,
and returns the games that finished as `GameRecord`s, whose outcomes are from each
mover's point of view. Finished slots restart at once with a new game, so the batch
stays full.

Playout cap randomization (KataGo: Wu 2019, "Accelerating Self-Play Learning in
Go"): with `full_search_fraction` < 1, each move is a full search (num_simulations,
root noise, temperature schedule, recorded) with that probability, else a fast one
(`fast_simulations`, no noise, the most visited move, not recorded). Games get
more moves per evaluation; only full searches make training targets. A game whose
every move was fast has nothing to record and is only counted.

Value targets mixed with search values: with `search_value_weight` w > 0 a position's
value target is (1 - w) * the game's result + w * the search's root value, both from
its mover's point of view. The result alone is an unbiased but noisy target (one
random move late in a game flips it); the root value is less noisy but biased by the
network that searched.

Root noise for the first plies only: with `root_noise_plies` N >= 0, a game's searches
get root exploration noise (PUCT's Dirichlet, Gumbel's Gumbel) only while fewer than N
moves have been played in it (a random opening's count), and the moves after are the
search's own best. The noise explores openings; late in a game a noised move is often a
mistake that decides the result, the value target of every position before it. -1 (the
default) noises every full search, as AlphaZero and Gumbel AlphaZero do.

Random openings: with `random_opening_plies` N > 0 each game starts with k uniformly
random moves, k drawn uniformly from 0..N, played without search and not recorded; the
game's positions and targets start after them (its play from there is the network's
own, so the result is a fair value target). A random move that would end the game
ends the opening instead. Pons' test positions come from random games, and a network
whose self-play repeats a few openings never sees such positions.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts import SearchConfig, choose_actions, make_search
from cartridge.replay.base import GameRecord


@dataclass(frozen=True, kw_only=True)
class PlayoutCap:
    """Playout cap randomization knobs (see config.toml [selfplay]); the default is off."""

    full_search_fraction: float = 1.0  # chance a move gets the full, recorded search
    fast_simulations: int = 8  # simulations of the other moves (fast, not recorded)

    def __post_init__(self) -> None:
        if not 0 < self.full_search_fraction <= 1:
            raise ValueError(f"full_search_fraction must be in (0, 1], "
                             f"got {self.full_search_fraction}")
        if self.fast_simulations < 1:
            raise ValueError(f"fast_simulations must be >= 1, got {self.fast_simulations}")

    @property
    def on(self) -> bool:
        return self.full_search_fraction < 1

    @classmethod
    def from_settings(cls, section: Any) -> PlayoutCap:
        """From the [selfplay] settings section (its per-game search tables aside)."""
        return cls(full_search_fraction=section.full_search_fraction,
                   fast_simulations=section.fast_simulations)


@dataclass
class _Trajectory:
    observations: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    movers: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    search_values: list[float] = field(default_factory=list)  # root value, mover's view


class SelfPlay:
    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        config: SearchConfig,
        *,
        concurrent_games: int,
        actor_id: str,
        rng: np.random.Generator,
        playout_cap: PlayoutCap = PlayoutCap(),
        search_value_weight: float = 0.0,
        random_opening_plies: int = 0,
        root_noise_plies: int = -1,
    ) -> None:
        if playout_cap.on and playout_cap.fast_simulations >= config.num_simulations:
            # The search tells a fast move (no root noise) from a full one by its budget.
            raise ValueError(f"fast_simulations ({playout_cap.fast_simulations}) must be "
                             f"less than num_simulations ({config.num_simulations})")
        if not 0 <= search_value_weight <= 1:
            raise ValueError(f"search_value_weight must be in [0, 1], got {search_value_weight}")
        if random_opening_plies < 0:
            raise ValueError(f"random_opening_plies must be >= 0, got {random_opening_plies}")
        if root_noise_plies < -1:
            raise ValueError(f"root_noise_plies must be >= -1 (-1: every ply), "
                             f"got {root_noise_plies}")
        self.game = game
        self.config = config
        self.playout_cap = playout_cap
        self.search_value_weight = search_value_weight
        self.random_opening_plies = random_opening_plies
        self.root_noise_plies = root_noise_plies
        self.actor_id = actor_id
        self.rng = rng
        self.mcts = make_search(
            game, evaluator, config, num_slots=concurrent_games, rng=rng, add_noise=True
        )
        self.trajectories = [_Trajectory() for _ in range(concurrent_games)]
        self.plies = np.zeros(concurrent_games, dtype=np.int64)
        self.positions_played = 0  # moves searched in full and recorded
        self.fast_moves = 0  # moves searched fast and not recorded
        self.games_finished = 0  # every finished game, also those with nothing recorded
        for slot in range(concurrent_games):
            self._new_game(slot)

    @property
    def evaluator(self) -> Evaluator:
        return self.mcts.evaluator

    def set_evaluator(self, evaluator: Evaluator) -> None:
        """Hot swap between moves; games in flight continue with the new model."""
        self.mcts.evaluator = evaluator

    def step(self, *, restart_finished: bool = True) -> list[GameRecord]:
        """One move in every active game; the games that ended with it and recorded
        at least one position (`games_finished` counts them all).

        With `restart_finished=False` finished slots stay empty (to drain before exit).
        """
        slots = np.flatnonzero(self.mcts.active)
        if len(slots) == 0:
            return []
        full = self._full_searches(len(slots))
        noisy = full if self.root_noise_plies < 0 else full & (self.plies[slots]
                                                               < self.root_noise_plies)
        result = self.mcts.search(
            slots, np.where(full, self.config.num_simulations, self.playout_cap.fast_simulations),
            noisy)
        actions = result.actions
        if actions is None:
            # Fast moves take the most visited move, as full moves do past the sampled plies.
            plies = np.where(full, self.plies[slots], self.config.temp_threshold)
            actions = choose_actions(result.visits, plies, self.config.temp_threshold, self.rng)
        version = int(self.evaluator.model_version)
        roots = [self.mcts.root_state(int(slot)) for slot in slots]
        if full.any():  # encoded for the recorded positions only; [recorded[row]] is row's
            recorded = np.cumsum(full) - 1
            kept = [roots[row] for row in np.flatnonzero(full)]
            observations, masks = self.game.encode_batch(kept), self.game.legal_mask_batch(kept)
        finished = []
        for row, slot in enumerate(slots):
            slot = int(slot)
            trajectory = self.trajectories[slot]
            if full[row]:
                trajectory.observations.append(observations[recorded[row]])
                trajectory.masks.append(masks[recorded[row]])
                trajectory.policies.append(result.visits[row])
                trajectory.movers.append(self.game.to_play(roots[row]))
                trajectory.versions.append(version)
                trajectory.search_values.append(float(result.root_values[row]))
                self.positions_played += 1
            else:
                self.fast_moves += 1
            state = self.mcts.advance(slot, int(actions[row]))
            self.plies[slot] += 1
            if self.game.is_terminal(state):
                self.games_finished += 1
                if trajectory.movers:
                    finished.append(self._record(trajectory, state))
                self.mcts.release(slot)
                if restart_finished:
                    self._new_game(slot)
        return finished

    def _full_searches(self, count: int) -> np.ndarray:
        """Which of `count` moves get the full search; all of them (no draw) when off."""
        if not self.playout_cap.on:
            return np.ones(count, dtype=bool)
        return self.rng.random(count) < self.playout_cap.full_search_fraction

    @property
    def games_in_flight(self) -> int:
        return int(self.mcts.active.sum())

    def _new_game(self, slot: int) -> None:
        self.trajectories[slot] = _Trajectory()
        state, plies = self._opening()
        self.plies[slot] = plies
        self.mcts.reset(slot, state)

    def _opening(self) -> tuple[object, int]:
        """A new game's first state and its plies: the initial state, or up to
        `random_opening_plies` random moves on, stopping before one that ends the game."""
        state = self.game.initial_state()
        if not self.random_opening_plies:
            return state, 0
        plies = int(self.rng.integers(0, self.random_opening_plies + 1))
        for ply in range(plies):
            following = self.game.apply(state, int(self.rng.choice(self.game.legal_actions(state))))
            if self.game.is_terminal(following):
                return state, ply
            state = following
        return state, plies

    def _record(self, trajectory: _Trajectory, final_state: object) -> GameRecord:
        result = self.game.terminal_value(final_state)
        last_mover = self.game.to_play(final_state)
        movers = np.asarray(trajectory.movers)
        outcomes = np.where(movers == last_mover, result, -result).astype(np.float32)
        if self.search_value_weight:
            weight = np.float32(self.search_value_weight)
            mixed = (1 - weight) * outcomes + weight * np.asarray(trajectory.search_values,
                                                                  dtype=np.float32)
            outcomes = np.clip(mixed, -1, 1)  # a mean of values can round past 1
        return GameRecord(
            game_id=uuid.uuid4().hex,
            env_id=self.game.id,
            actor_id=self.actor_id,
            observations=np.stack(trajectory.observations).astype(np.float32),
            legal_masks=np.stack(trajectory.masks),
            policies=np.stack(trajectory.policies).astype(np.float32),
            outcomes=outcomes,
            model_versions=np.asarray(trajectory.versions, dtype=np.int64),
            created_at=time.time(),
        )
