"""Dependencies the routes declare: the shared resources, set on the app at start."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from cartridge.games import GAME_IDS, Game, get_game
from web.resources import WebResources


def get_resources(request: Request) -> WebResources:
    return request.app.state.resources


Resources = Annotated[WebResources, Depends(get_resources)]


def known_game(game_id: str) -> Game:
    """The game named `game_id`, or 404 naming the games there are."""
    if game_id not in GAME_IDS:
        raise HTTPException(404, f"unknown game {game_id!r}; games: {', '.join(GAME_IDS)}")
    return get_game(game_id)
