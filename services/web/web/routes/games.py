"""The games, their boards, and positions rebuilt from their moves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from cartridge.games import GAME_IDS, get_game
from web.deps import Resources, known_game
from web.positions import MAX_ACTIONS, board_layout, position_view

router = APIRouter(prefix="/api", tags=["games"])


class PositionRequest(BaseModel):
    game: str = Field(description="tictactoe | connect4 | othello")
    actions: list[int] = Field(default_factory=list, max_length=MAX_ACTIONS,
                               description="0-based actions from the initial position")


@router.get("/games")
def games(resources: Resources) -> list[dict[str, Any]]:
    """Every game with its board: rows, columns, and how a click maps to an action;
    `default` marks the game this service was configured for ([common] env_id)."""
    default = resources.settings.common.env_id
    return [{"id": game_id, "num_actions": get_game(game_id).num_actions,
             "default": game_id == default, **board_layout(get_game(game_id)).to_json()}
            for game_id in GAME_IDS]


@router.post("/position")
def position(request: PositionRequest) -> dict[str, Any]:
    """The position after `actions`: board rows ("X", "O", "."), side to move, legal
    actions, and the result once the game is over."""
    game = known_game(request.game)
    try:
        return position_view(game, request.actions)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
