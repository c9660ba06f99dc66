"""Game ids -> implementations. The ids appear in config, database rows, object keys
and metric labels, so they never change once published."""

from __future__ import annotations

from functools import cache

from cartridge.games.base import Game
from cartridge.games.connect4 import Connect4
from cartridge.games.othello import Othello
from cartridge.games.tictactoe import TicTacToe

_GAMES: dict[str, type[Game]] = {
    "tictactoe": TicTacToe,
    "connect4": Connect4,
    "othello": Othello,
}
GAME_IDS = tuple(_GAMES)


@cache
def get_game(game_id: str) -> Game:
    """The (stateless, shared) game for `game_id`; a clear error for an unknown id."""
    try:
        return _GAMES[game_id]()
    except KeyError:
        raise ValueError(
            f"unknown game {game_id!r}; known games: {', '.join(GAME_IDS)}"
        ) from None
