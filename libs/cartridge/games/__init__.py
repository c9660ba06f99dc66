"""Game rules, looked up by id: `get_game("connect4")`."""

from cartridge.games.base import Game, IllegalActionError, Symmetry, augment
from cartridge.games.registry import GAME_IDS, get_game

__all__ = ["GAME_IDS", "Game", "IllegalActionError", "Symmetry", "augment", "get_game"]
