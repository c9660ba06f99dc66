"""The dashboard's data for one game, from the stores every service shares: the journal
(training history, actor heartbeats, the arena's ratings, benchmarks and promotions)
and the model store (versions and pointers). Nothing comes from another service's
local files, so it reads the same in the embedded shape and in compose or Kubernetes."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException

from cartridge.journal import Heartbeat, JournalError, TrainingRow
from web.deps import Resources, known_game

router = APIRouter(prefix="/api", tags=["dashboard"])

MAX_POINTS = 2000  # training rows sent per series; longer histories are thinned evenly
LIVE_S = 30.0  # a heartbeat younger than this: the actor is live (it beats every 5 s)
STALE_S = 300.0  # older than LIVE_S and younger than this: stale; older: gone


@router.get("/dashboard/{game}")
def dashboard(game: str, resources: Resources) -> dict[str, Any]:
    """Training (losses, learning rate, samples/s over steps), self-play (per actor and in
    total, with each actor's heartbeat state), the replay buffer, the model timeline,
    and the arena's ratings, benchmark figures and promotions."""
    env_id = known_game(game).id
    try:
        journal = resources.journal.get()
        history = journal.training_history(env_id)
        beats = journal.heartbeats(env_id)
        ratings = journal.ratings(env_id)
        benchmarks = journal.benchmarks(env_id)
        promotions = journal.promotions(env_id)
    except JournalError as err:
        resources.journal.reset()
        raise HTTPException(503, f"the journal cannot be read right now: {err}",
                            headers={"Retry-After": "5"}) from None
    store = resources.catalog.store(env_id)
    now = time.time()
    actors = [_actor(beat, now) for beat in beats]
    live = [a for a in actors if a["state"] == "live"]
    return {
        "game": env_id,
        "now": now,
        "training": [_training(row) for row in _thin(history)],
        "selfplay": {
            "actors": actors,
            "positions_per_s": sum(a["positions_per_s"] for a in live),
            "games": sum(a["games"] for a in actors),
            "live_actors": len(live),
        },
        "replay": _replay(history),
        "models": {
            "latest": store.pointer("latest"),
            "best": store.pointer("best"),
            "versions": [
                {"version": i.version, "step": i.step, "created_at": i.created_at,
                 "onnx_bytes": i.onnx_bytes, "checkpoint_bytes": i.checkpoint_bytes,
                 "sha256": i.sha256} for i in resources.catalog.infos(env_id)],
        },
        "strength": {
            "ratings": [asdict(r) for r in ratings],
            "benchmarks": [asdict(b) for b in benchmarks],
            "promotions": [asdict(p) for p in promotions],
        },
    }


def _thin(rows: list[TrainingRow]) -> list[TrainingRow]:
    if len(rows) <= MAX_POINTS:
        return rows
    stride = -(-len(rows) // MAX_POINTS)
    return rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else [])


def _training(row: TrainingRow) -> dict[str, Any]:
    return {"step": row.step, "total_loss": row.total_loss, "policy_loss": row.policy_loss,
            "value_loss": row.value_loss, "learning_rate": row.learning_rate,
            "samples_per_s": row.samples_per_s, "model_version": row.model_version,
            "ratio_wait_share": row.ratio_wait_share, "replay_positions": row.replay_positions,
            "recorded_at": row.recorded_at}


def _actor(beat: Heartbeat, now: float) -> dict[str, Any]:
    age = now - beat.updated_at
    state = "live" if age < LIVE_S else "stale" if age < STALE_S else "gone"
    return {"actor_id": beat.actor_id, "model_version": beat.model_version,
            "games": beat.games, "positions": beat.positions,
            "positions_per_s": beat.positions_per_s if state == "live" else 0.0,
            "last_heartbeat": beat.updated_at, "seconds_since": round(age, 1), "state": state}


def _replay(history: list[TrainingRow]) -> dict[str, Any] | None:
    """Size from the trainer's newest row; ingest from the positions ever added between
    its two newest rows (the trainer reads the store at every report)."""
    if not history:
        return None
    newest = history[-1]
    ingest = None
    if len(history) > 1:
        before = history[-2]
        elapsed = newest.recorded_at - before.recorded_at
        if elapsed > 0:
            ingest = max(0.0, (newest.replay_added - before.replay_added) / elapsed)
    return {"positions": newest.replay_positions, "games": newest.replay_games,
            "ingest_positions_per_s": ingest, "as_of": newest.recorded_at}
