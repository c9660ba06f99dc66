"""The model's answer to a position: its move, value and visit distribution.

Stateless: the client sends the moves so far with each request. The search runs in the
bounded search pool; a full pool answers 503 with Retry-After instead of queueing more.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cartridge.inference.onnx import ModelLoadError, ModelMismatchError
from cartridge.mcts import SearchConfig
from cartridge.modelstore.base import CorruptModelError
from cartridge.play import answer_positions
from web.deps import Resources, known_game
from web.models import UnknownModelError
from web.positions import MAX_ACTIONS, position_view, replay
from web.search_pool import PoolFullError

router = APIRouter(prefix="/api", tags=["play"])


class MoveRequest(BaseModel):
    game: str = Field(description="tictactoe | connect4 | othello")
    actions: list[int] = Field(default_factory=list, max_length=MAX_ACTIONS,
                               description="0-based actions from the initial position")
    model: str = Field(default="latest", pattern=r"^(latest|best|[0-9]{1,9})$",
                       description='"latest", "best" or a version number')
    simulations: int = Field(default=200, ge=1,
                             description="search simulations, at most [web] max_simulations")


@router.post("/move")
async def move(request: MoveRequest, resources: Resources) -> dict[str, Any]:
    """The model's move in the position after `actions` (evaluation-mode search: no
    noise; PUCT's most visited move or Gumbel's halving winner), with its value for the
    side to move, the search policy over every action (PUCT: visit shares; Gumbel: the
    improved policy), and the position after the move."""
    game = known_game(request.game)
    limit = resources.settings.web.max_simulations
    if request.simulations > limit:
        raise HTTPException(422, f"simulations = {request.simulations} is more than a request "
                                 f"may ask for ([web] max_simulations = {limit})")
    try:
        state = replay(game, request.actions)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    if game.is_terminal(state):
        raise HTTPException(409, "the game is already over: there is no move to make")
    try:
        # A store read (S3 in compose and Kubernetes): off the event loop, so a slow
        # store holds up this request only, not /healthz and every other one.
        info = await run_in_threadpool(resources.catalog.resolve, game.id, request.model)
    except UnknownModelError as err:
        raise HTTPException(404, str(err)) from None
    config = dataclasses.replace(SearchConfig.from_settings(resources.settings.mcts),
                                 num_simulations=request.simulations)

    def search() -> Any:
        evaluator = resources.catalog.evaluator(info)  # loaded in the pool, not the loop
        started = time.perf_counter()
        answer = answer_positions(game, evaluator, config, [request.actions],
                                  np.random.default_rng())[0]
        resources.metrics.search_seconds.labels(game.id).observe(time.perf_counter() - started)
        return answer

    try:
        answer = await resources.searches.run(search)
    except PoolFullError as err:
        resources.metrics.refused.inc()
        raise HTTPException(503, f"the service is busy ({err}); try again shortly",
                            headers={"Retry-After": "1"}) from None
    except (CorruptModelError, ModelLoadError, ModelMismatchError) as err:
        raise HTTPException(500, f"model {request.model} of {game.id} cannot be played: "
                                 f"{err}") from None
    return {
        "action": answer.action,
        "value": round(answer.value, 4),
        "visits": [round(share, 4) for share in answer.policy],
        "simulations": request.simulations,
        "model": {"version": 0, "step": 0, "name": "uniform (no model yet)"} if info is None
        else {"version": info.version, "step": info.step,
              "name": f"v{info.version} (step {info.step})"},
        "position": position_view(game, [*request.actions, answer.action]),
    }
