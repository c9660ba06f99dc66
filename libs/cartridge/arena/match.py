"""A match: two players over the fixed openings, each opening from both seats.

All games advance together: each ply asks each player once for every position
where it is to move, so a search player answers a whole match's positions with
one batched search (one inference call per simulation step for all of them),
not one game at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cartridge.arena.openings import Opening
from cartridge.games.base import Game
from cartridge.players import MatchResult, Player


@dataclass(frozen=True)
class GameResult:
    """One game of a match, from player A's point of view."""

    opening: Opening
    seat_a: int  # 0: A plays the first player's side (X, yellow, dark), 1: the second
    score_a: float  # 1 win, 0.5 draw, 0 loss
    plies: int  # moves after the opening


def play_match_games(game: Game, player_a: Player, player_b: Player,
                     openings: Sequence[Opening],
                     seats: Sequence[int] = (0, 1)) -> list[GameResult]:
    """Every opening once per seat of A (seat 0, then seat 1); results in that order."""
    starts = [game.apply_all(list(opening)) for opening in openings]
    for opening, state in zip(openings, starts, strict=True):
        if game.is_terminal(state):
            raise ValueError(f"{game.id}: opening {opening} ends the game")
    schedule = [(opening, start, seat) for opening, start in zip(openings, starts, strict=True)
                for seat in seats]
    states = [start for _, start, _ in schedule]
    plies = [0] * len(states)
    while True:
        live = [g for g, state in enumerate(states) if not game.is_terminal(state)]
        if not live:
            break
        for player, a_to_move in ((player_a, True), (player_b, False)):
            mine = [g for g in live if not game.is_terminal(states[g])
                    and (game.to_play(states[g]) == schedule[g][2]) == a_to_move]
            actions = player.choose([states[g] for g in mine])
            for g, action in zip(mine, actions, strict=True):
                states[g] = game.apply(states[g], action)
                plies[g] += 1
    results = []
    for (opening, _, seat), state, count in zip(schedule, states, plies, strict=True):
        value = game.terminal_value(state)  # for the side to move at the end
        value_a = value if game.to_play(state) == seat else -value
        results.append(GameResult(opening, seat, (value_a + 1) / 2, count))
    return results


def summarise(results: Sequence[GameResult]) -> MatchResult:
    """Wins, draws and losses of player A."""
    wins = sum(r.score_a == 1 for r in results)
    losses = sum(r.score_a == 0 for r in results)
    return MatchResult(wins, len(results) - wins - losses, losses)
