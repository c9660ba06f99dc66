"""Self-play: many concurrent games advanced one move at a time by one batched search.

`SelfPlay.step()` searches every game once (root noise on), picks each move
(PUCT: the temperature schedule over visits; Gumbel: the search's own choice),
records (observation, legal mask, policy target, model version) for the position,
and returns the games that finished as `GameRecord`s, whose outcomes are from each
mover's point of view. Finished slots restart at once with a new game, so the batch
stays full.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts import SearchConfig, choose_actions, make_search
from cartridge.replay.base import GameRecord


@dataclass
class _Trajectory:
    observations: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    movers: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)


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
    ) -> None:
        self.game = game
        self.config = config
        self.actor_id = actor_id
        self.rng = rng
        self.mcts = make_search(
            game, evaluator, config, num_slots=concurrent_games, rng=rng, add_noise=True
        )
        self.trajectories = [_Trajectory() for _ in range(concurrent_games)]
        self.plies = np.zeros(concurrent_games, dtype=np.int64)
        self.positions_played = 0
        for slot in range(concurrent_games):
            self._new_game(slot)

    @property
    def evaluator(self) -> Evaluator:
        return self.mcts.evaluator

    def set_evaluator(self, evaluator: Evaluator) -> None:
        """Hot swap between moves; games in flight continue with the new model."""
        self.mcts.evaluator = evaluator

    def step(self, *, restart_finished: bool = True) -> list[GameRecord]:
        """One move in every active game; the games that ended with it.

        With `restart_finished=False` finished slots stay empty (to drain before exit).
        """
        result = self.mcts.search()
        if len(result.slots) == 0:
            return []
        actions = result.actions
        if actions is None:
            actions = choose_actions(result.visits, self.plies[result.slots],
                                     self.config.temp_threshold, self.rng)
        version = int(self.evaluator.model_version)
        roots = [self.mcts.root_state(int(slot)) for slot in result.slots]
        observations = self.game.encode_batch(roots)
        masks = self.game.legal_mask_batch(roots)
        finished = []
        for row, slot in enumerate(result.slots):
            slot = int(slot)
            trajectory = self.trajectories[slot]
            state = roots[row]
            trajectory.observations.append(observations[row])
            trajectory.masks.append(masks[row])
            trajectory.policies.append(result.visits[row])
            trajectory.movers.append(self.game.to_play(state))
            trajectory.versions.append(version)
            state = self.mcts.advance(slot, int(actions[row]))
            self.plies[slot] += 1
            self.positions_played += 1
            if self.game.is_terminal(state):
                finished.append(self._record(trajectory, state))
                self.mcts.release(slot)
                if restart_finished:
                    self._new_game(slot)
        return finished

    @property
    def games_in_flight(self) -> int:
        return int(self.mcts.active.sum())

    def _new_game(self, slot: int) -> None:
        self.trajectories[slot] = _Trajectory()
        self.plies[slot] = 0
        self.mcts.reset(slot, self.game.initial_state())

    def _record(self, trajectory: _Trajectory, final_state: object) -> GameRecord:
        result = self.game.terminal_value(final_state)
        last_mover = self.game.to_play(final_state)
        movers = np.asarray(trajectory.movers)
        outcomes = np.where(movers == last_mover, result, -result).astype(np.float32)
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
