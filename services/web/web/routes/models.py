"""The stored models of a game: versions, steps, sizes, sha256, and the pointers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from web.deps import Resources, known_game

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models/{game}")
def models(game: str, resources: Resources) -> dict[str, Any]:
    store = resources.catalog.store(known_game(game).id)
    return {
        "game": game,
        "latest": store.pointer("latest"),
        "best": store.pointer("best"),
        "versions": [store.info(version).to_json() for version in store.versions()],
    }
