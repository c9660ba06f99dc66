"""The stored models of a game: versions, steps, sizes, sha256, and the pointers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from web.deps import Resources, known_game

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models/{game}")
def models(game: str, resources: Resources) -> dict[str, Any]:
    env_id = known_game(game).id
    store = resources.catalog.store(env_id)
    return {
        "game": game,
        "latest": store.pointer("latest"),
        "best": store.pointer("best"),
        "versions": [info.to_json() for info in resources.catalog.infos(env_id)],
    }
