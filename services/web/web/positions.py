"""A game and the moves so far -> what the play page draws and may click.

Every position is rebuilt from its moves on each request (the server keeps no game).
Bad input raises ValueError (IllegalActionError is one) with a message naming the move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cartridge.games import Game

# No game here lasts longer (Othello: 60 moves plus passes); more is refused, not replayed.
MAX_ACTIONS = 200
PLAYER_NAMES = ("X", "O")  # as Game.rows draws them: the first player, the second


@dataclass(frozen=True)
class BoardLayout:
    """How clicks map to actions: a cell (row * cols + col) or a column; Othello's pass
    is the one action past the board."""

    rows: int
    cols: int
    click: Literal["cell", "column"]
    pass_action: int | None

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "cols": self.cols, "click": self.click,
                "pass_action": self.pass_action}


def board_layout(game: Game) -> BoardLayout:
    _, height, width = game.observation_shape
    if game.num_actions == width:
        return BoardLayout(height, width, "column", None)
    if game.num_actions == height * width:
        return BoardLayout(height, width, "cell", None)
    if game.num_actions == height * width + 1:
        return BoardLayout(height, width, "cell", height * width)
    raise ValueError(f"{game.id}: {game.num_actions} actions fit no board of {height}x{width}")


def replay(game: Game, actions: list[int]) -> Any:
    """The state after `actions`; ValueError naming the first bad one."""
    if len(actions) > MAX_ACTIONS:
        raise ValueError(f"{len(actions)} moves is more than any {game.id} game has "
                         f"(at most {MAX_ACTIONS} are accepted)")
    return game.apply_all(actions)


def position_view(game: Game, actions: list[int]) -> dict[str, Any]:
    state = replay(game, actions)
    terminal = game.is_terminal(state)
    mover = game.to_play(state)
    result = None
    if terminal:
        value = game.terminal_value(state)  # for the side to move in the final position
        winner = None if value == 0 else (mover if value > 0 else 1 - mover)
        result = {"winner": winner,
                  "text": "draw" if winner is None else f"{PLAYER_NAMES[winner]} wins"}
    return {
        "game": game.id,
        "actions": list(actions),
        "rows": game.rows(state),
        "to_play": mover,
        "legal_actions": [] if terminal else game.legal_actions(state),
        "terminal": terminal,
        "result": result,
    }
