"""Players for strength checks: random, one-ply lookahead, perfect minimax, model + MCTS.

A player answers a batch of positions at once (`choose(states) -> actions`), so
an MCTS player searches every game of a match in one batched search per ply.
`play_match` plays games between two players, half of them from each seat;
`exhaustive_losses` plays a deterministic agent against EVERY reply of the
opponent (the whole game tree below the agent's choices) and counts lost games:
0 from both seats means the agent never loses to anyone, a perfect player included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts import SearchConfig, choose_actions, make_search


class Player(Protocol):
    def choose(self, states: Sequence[Any]) -> list[int]:
        """One legal action for each (non-terminal) state."""
        ...


class RandomPlayer:
    """Uniformly random legal moves."""

    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng

    def choose(self, states: Sequence[Any]) -> list[int]:
        return [int(self.rng.choice(self.game.legal_actions(s))) for s in states]


class OnePlyPlayer:
    """Wins at once if it can; otherwise avoids moves that let the opponent win at once;
    otherwise random."""

    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng

    def choose(self, states: Sequence[Any]) -> list[int]:
        return [self._choose_one(s) for s in states]

    def _choose_one(self, state: Any) -> int:
        game = self.game
        actions = game.legal_actions(state)
        children = [game.apply(state, a) for a in actions]
        for action, child in zip(actions, children, strict=True):
            # terminal_value is for the side to move in the child: -1 = the mover just won.
            if game.is_terminal(child) and game.terminal_value(child) < 0:
                return action
        safe = [a for a, child in zip(actions, children, strict=True)
                if not _opponent_wins_next(game, child)]
        return int(self.rng.choice(safe or actions))


def _opponent_wins_next(game: Game, state: Any) -> bool:
    if game.is_terminal(state):
        return False
    for action in game.legal_actions(state):
        child = game.apply(state, action)
        if game.is_terminal(child) and game.terminal_value(child) < 0:
            return True
    return False


class MinimaxPlayer:
    """Perfect play by memoised negamax; fits small games (tic-tac-toe: 5478 positions).

    Among equally good moves it takes one at random, so matches still vary.
    """

    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng
        self._values: dict[Any, float] = {}

    def value(self, state: Any) -> float:
        """Game-theoretic value for the side to move: +1 win, 0 draw, -1 loss."""
        key = self.game.key(state)
        cached = self._values.get(key)
        if cached is not None:
            return cached
        if self.game.is_terminal(state):
            result = float(self.game.terminal_value(state))
        else:
            result = max(-self.value(self.game.apply(state, a))
                         for a in self.game.legal_actions(state))
        self._values[key] = result
        return result

    def choose(self, states: Sequence[Any]) -> list[int]:
        chosen = []
        for state in states:
            actions = self.game.legal_actions(state)
            scores = [-self.value(self.game.apply(state, a)) for a in actions]
            best = [a for a, s in zip(actions, scores, strict=True) if s == max(scores)]
            chosen.append(int(self.rng.choice(best)))
        return chosen


class MctsPlayer:
    """A model with evaluation-mode search: no root noise; PUCT plays the most visited
    move (ties broken by `rng`, so a fixed seed makes it deterministic), Gumbel its
    halving winner (deterministic)."""

    def __init__(self, game: Game, evaluator: Evaluator, config: SearchConfig,
                 rng: np.random.Generator) -> None:
        self.game, self.evaluator, self.config, self.rng = game, evaluator, config, rng

    def choose(self, states: Sequence[Any]) -> list[int]:
        if not states:
            return []
        mcts = make_search(self.game, self.evaluator, self.config, num_slots=len(states),
                           rng=self.rng, add_noise=False)
        for slot, state in enumerate(states):
            mcts.reset(slot, state)
        result = mcts.search()
        order = np.argsort(result.slots)
        if result.actions is not None:
            return [int(a) for a in result.actions[order]]
        greedy = np.full(len(states), self.config.temp_threshold)
        actions = choose_actions(result.visits[order], greedy, self.config.temp_threshold,
                                 self.rng)
        return [int(a) for a in actions]


@dataclass(frozen=True)
class MatchResult:
    """From the first player's point of view (`play_match`'s `player`)."""

    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        """(wins + draws / 2) / games."""
        return (self.wins + 0.5 * self.draws) / max(self.games, 1)

    def __str__(self) -> str:
        return f"{self.wins}W {self.draws}D {self.losses}L"


def play_match(game: Game, player: Player, opponent: Player, games: int) -> MatchResult:
    """`games` games, `player` moving first in the first half and second in the rest.

    All games advance together: each ply asks each player once for all the
    positions where it is to move.
    """
    states = [game.initial_state() for _ in range(games)]
    seats = [0 if g < (games + 1) // 2 else 1 for g in range(games)]  # player's seat
    while any(not game.is_terminal(s) for s in states):
        for who, seat_test in ((player, True), (opponent, False)):
            mine = [g for g in range(games) if not game.is_terminal(states[g])
                    and (game.to_play(states[g]) == seats[g]) == seat_test]
            for g, action in zip(mine, who.choose([states[g] for g in mine]), strict=True):
                states[g] = game.apply(states[g], action)
    wins = draws = losses = 0
    for state, seat in zip(states, seats, strict=True):
        # terminal_value is for the side to move at the end.
        value = game.terminal_value(state)
        result = value if game.to_play(state) == seat else -value
        wins, draws, losses = wins + (result > 0), draws + (result == 0), losses + (result < 0)
    return MatchResult(wins, draws, losses)


def exhaustive_losses(game: Game, agent: Player, seats: Sequence[int] = (0, 1)) -> int:
    """Lost games of `agent` against every possible reply, summed over `seats`.

    The agent plays one move in each position where it is to move (asked once per
    distinct position, so a deterministic agent is treated consistently); the
    opponent branches over every legal reply. Leaves are counted per path, so a
    losing line reachable in several move orders counts once per order.
    """
    losses = 0
    for seat in seats:
        frontier = [game.initial_state()]
        while frontier:
            to_ask = {}
            for state in frontier:
                if game.to_play(state) == seat:
                    to_ask.setdefault(game.key(state), state)
            keys = list(to_ask)
            answers = dict(zip(keys, agent.choose([to_ask[k] for k in keys]), strict=True))
            children = []
            for state in frontier:
                if game.to_play(state) == seat:
                    nexts = [game.apply(state, answers[game.key(state)])]
                else:
                    nexts = [game.apply(state, a) for a in game.legal_actions(state)]
                for child in nexts:
                    if not game.is_terminal(child):
                        children.append(child)
                        continue
                    value = game.terminal_value(child)
                    result = value if game.to_play(child) == seat else -value
                    losses += result < 0
            frontier = children
    return losses
