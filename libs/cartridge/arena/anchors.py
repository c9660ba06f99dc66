"""The fixed anchors every model is rated against; they never change.

- random      uniformly random legal moves: the zero of the rating scale;
- one-ply     wins at once if it can, else avoids handing the opponent a win;
- alphabeta   alpha-beta minimax at a fixed depth per game with a simple
              heuristic (`heuristics.py`), named with its depth (`alphabeta-d3`);
- perfect     exact play: memoised minimax for tic-tac-toe; for Connect Four the
              BitBully solver, an optional extra (connect4_solver.py), only when
              [arena] connect4_solver is on.

Anchors are named by strings that appear in the journal's rows, so a name
always means the same player: a stronger or deeper variant gets a new name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cartridge.arena.alphabeta import AlphaBetaPlayer
from cartridge.arena.connect4_solver import SolverPlayer
from cartridge.games.base import Game
from cartridge.players import MinimaxPlayer, OnePlyPlayer, Player, RandomPlayer

RANDOM = "random"
ONE_PLY = "one-ply"
PERFECT = "perfect"
# Fixed per game: deep enough to punish blunders, cheap enough in pure Python.
ALPHABETA_DEPTH = {"tictactoe": 3, "connect4": 3, "othello": 2}

MakePlayer = Callable[[Game, np.random.Generator], Player]


def anchor_names(env_id: str, *, connect4_solver: bool = False) -> tuple[str, ...]:
    """The anchors of a game, weakest first (roughly)."""
    names = [RANDOM, ONE_PLY, f"alphabeta-d{ALPHABETA_DEPTH[env_id]}"]
    if env_id == "tictactoe" or (env_id == "connect4" and connect4_solver):
        names.append(PERFECT)
    return tuple(names)


def make_anchor(name: str, game: Game, rng: np.random.Generator) -> Player:
    """The player behind an anchor name; ValueError naming it if the game has no such anchor."""
    known = anchor_names(game.id, connect4_solver=True)
    if name not in known:
        raise ValueError(f"no anchor {name!r} for {game.id}; anchors: {', '.join(known)}")
    if name == RANDOM:
        return RandomPlayer(game, rng)
    if name == ONE_PLY:
        return OnePlyPlayer(game, rng)
    if name == PERFECT:
        return SolverPlayer(rng) if game.id == "connect4" else MinimaxPlayer(game, rng)
    return AlphaBetaPlayer(game, ALPHABETA_DEPTH[game.id], rng)
