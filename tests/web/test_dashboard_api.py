"""GET /api/dashboard/{game} on a live server, over a real SQLite journal and model folder
in its data_dir: training history, actors' heartbeat states, the replay buffer's size
and ingest, the model timeline, the arena's figures, thinning, and a journal that cannot
be read (503 naming it)."""

from __future__ import annotations

import time

from cartridge.journal import (
    BenchmarkRow,
    Heartbeat,
    PromotionRow,
    RatingRow,
    TrainingRow,
    open_journal,
)
from web.routes import dashboard


def training_row(step: int, recorded_at: float, added: int) -> TrainingRow:
    return TrainingRow("tictactoe", step, 2.0 - step / 1000, 1.5, 0.5, 1e-3, 800.0, step // 100,
                       added // 2, added // 20, added, 0.25, recorded_at)


def test_the_dashboard_shows_what_the_shared_stores_hold(serve):
    web = serve(publish_models=2)
    web.store().promote(2)
    now = time.time()
    with open_journal(web.resources.settings.storage, web.data_dir) as journal:
        journal.record_training(training_row(100, now - 20, 1000))
        journal.record_training(training_row(200, now - 10, 1500))  # 500 added in 10 s
        for actor_id, age in (("a-live", 2), ("a-stale", 120), ("a-gone", 3600)):
            journal.heartbeat(Heartbeat(actor_id, "tictactoe", 2, 10, 90, 30.0, now - 4000,
                                        now - age))
        journal.heartbeat(Heartbeat("c4", "connect4", 1, 1, 9, 3.0, now, now))  # other game
        journal.replace_ratings("tictactoe", [RatingRow("v2", 2, 2, 310.0, 40.0, 144),
                                              RatingRow("random", None, None, 0.0, 0.0, 144)])
        journal.record_benchmark(BenchmarkRow("tictactoe", 2, "tictactoe-perfect-play",
                                              "search", 64, 0.97, {}, now))
        journal.record_promotion(PromotionRow("tictactoe", 2, None, now))
    data = web.get("/api/dashboard/tictactoe").json()
    assert [r["step"] for r in data["training"]] == [100, 200]
    assert data["training"][1]["total_loss"] == 1.8
    assert data["training"][1]["replay_positions"] == 750
    states = {a["actor_id"]: a["state"] for a in data["selfplay"]["actors"]}
    assert states == {"a-live": "live", "a-stale": "stale", "a-gone": "gone"}
    assert data["selfplay"]["positions_per_s"] == 30.0  # live actors only
    assert data["selfplay"]["live_actors"] == 1 and data["selfplay"]["games"] == 30
    replay = data["replay"]
    assert (replay["positions"], replay["games"]) == (750, 75)
    assert abs(replay["ingest_positions_per_s"] - 50.0) < 1e-6
    models = data["models"]
    assert (models["latest"], models["best"]) == (2, 2)
    assert [m["version"] for m in models["versions"]] == [1, 2]
    assert len(models["versions"][0]["sha256"]) == 64
    strength = data["strength"]
    assert {r["player"] for r in strength["ratings"]} == {"v2", "random"}
    assert strength["benchmarks"][0]["score"] == 0.97
    assert strength["promotions"][0]["version"] == 2


def test_an_empty_run_is_shown_empty_not_failed(serve):
    data = serve(publish_models=0).get("/api/dashboard/connect4").json()
    assert data["training"] == [] and data["replay"] is None
    assert data["selfplay"]["actors"] == [] and data["models"]["versions"] == []


def test_long_histories_are_thinned_keeping_the_newest_row(serve, monkeypatch):
    monkeypatch.setattr(dashboard, "MAX_POINTS", 10)
    web = serve(publish_models=0)
    with open_journal(web.resources.settings.storage, web.data_dir) as journal:
        for step in range(1, 36):
            journal.record_training(training_row(step, float(step), step))
    steps = [r["step"] for r in web.get("/api/dashboard/tictactoe").json()["training"]]
    assert len(steps) <= 11 and steps[0] == 1 and steps[-1] == 35
    assert steps == sorted(steps)


def test_an_unknown_game_and_an_unreadable_journal_are_named(serve):
    assert "unknown game 'go'" in serve(publish_models=0).get("/api/dashboard/go").text
    web = serve(publish_models=0, journal_postgres="postgresql://nobody@127.0.0.1:1/none")
    response = web.get("/api/dashboard/tictactoe")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "journal" in response.json()["detail"] and "127.0.0.1" in response.json()["detail"]
