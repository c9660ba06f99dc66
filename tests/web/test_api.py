"""The web service's JSON API against a real uvicorn server on loopback: every route, every
bad input answered with a 4xx naming the problem, the bounded search pool, the model
cache, the metrics, and no torch in the service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest

from tests.actor.helpers import REPO


def test_healthz_and_openapi(serve):
    web = serve()
    health = web.get("/healthz").json()
    assert health["status"] == "ok" and health["search_capacity"] == 2 + 8
    paths = set(web.get("/openapi.json").json()["paths"])
    assert {"/healthz", "/api/games", "/api/position", "/api/models/{game}",
            "/api/move"} <= paths


def test_games_describe_their_boards(serve):
    games = {g["id"]: g for g in serve().get("/api/games").json()}
    assert games["tictactoe"] == {"id": "tictactoe", "num_actions": 9, "rows": 3,
                                  "cols": 3, "click": "cell", "pass_action": None,
                                  "default": True}  # config.toml's [common] env_id
    assert not games["connect4"]["default"]
    assert (games["connect4"]["rows"], games["connect4"]["cols"],
            games["connect4"]["click"]) == (6, 7, "column")
    assert (games["othello"]["click"], games["othello"]["pass_action"]) == ("cell", 64)


def test_position_is_rebuilt_from_the_moves(serve):
    web = serve()
    start = web.post("/api/position", {"game": "tictactoe", "actions": []}).json()
    assert start["rows"] == ["...", "...", "..."] and start["legal_actions"] == list(range(9))
    assert start["to_play"] == 0 and not start["terminal"]
    # X takes the top row: X 0, O 3, X 1, O 4, X 2.
    won = web.post("/api/position", {"game": "tictactoe", "actions": [0, 3, 1, 4, 2]}).json()
    assert won["rows"] == ["XXX", "OO.", "..."]
    assert won["terminal"] and won["result"] == {"winner": 0, "text": "X wins"}
    assert won["legal_actions"] == []
    drawn = web.post("/api/position", {"game": "tictactoe",
                                       "actions": [0, 1, 2, 4, 3, 5, 7, 6, 8]}).json()
    assert drawn["result"] == {"winner": None, "text": "draw"}
    column = web.post("/api/position", {"game": "connect4", "actions": [3, 3]}).json()
    assert column["rows"][-1] == "...X..." and column["rows"][-2] == "...O..."


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"game": "chess", "actions": []}, 404, "unknown game 'chess'; games: tictactoe"),
    ({"game": "tictactoe", "actions": [4, 4]}, 422, "action #1"),
    ({"game": "tictactoe", "actions": [9]}, 422, "out of range"),
    ({"game": "tictactoe", "actions": [0, 3, 1, 4, 2, 5]}, 422, "after the game ended"),
    ({"game": "tictactoe", "actions": [0] * 201}, 422, "at most 200"),
    ({"game": "tictactoe", "actions": ["a"]}, 422, "integer"),
    ({"actions": []}, 422, "game"),
])
def test_bad_positions_are_named(serve, body, status, words):
    response = serve(publish_models=0).post("/api/position", body)
    assert response.status_code == status
    assert words in response.text


def test_models_lists_versions_and_pointers(serve):
    web = serve(publish_models=2)
    listing = web.get("/api/models/tictactoe").json()
    assert (listing["latest"], listing["best"]) == (2, None)
    assert [v["version"] for v in listing["versions"]] == [1, 2]
    assert all(len(v["sha256"]) == 64 and v["onnx_bytes"] > 0 for v in listing["versions"])
    web.store().promote(1)
    assert web.get("/api/models/tictactoe").json()["best"] == 1
    assert web.get("/api/models/connect4").json() == {
        "game": "connect4", "latest": None, "best": None, "versions": []}
    assert web.get("/api/models/go").status_code == 404


def test_the_model_answers_with_its_move_value_and_visits(serve):
    web = serve(publish_models=2)
    # X has 0 and 1, O has 3 and 4: X wins at 2, and any real search finds it.
    answer = web.post("/api/move", {"game": "tictactoe", "actions": [0, 3, 1, 4],
                                    "simulations": 200}).json()
    assert answer["action"] == 2
    assert answer["model"] == {"version": 2, "step": 2, "name": "v2 (step 2)"}
    assert answer["position"]["actions"] == [0, 3, 1, 4, 2]
    assert answer["position"]["result"]["text"] == "X wins"
    assert answer["value"] > 0.5  # the mover sees its win
    visits = answer["visits"]
    assert len(visits) == 9 and abs(sum(visits) - 1) < 0.01
    assert all(visits[a] == 0 for a in (0, 1, 3, 4))  # occupied cells get no visits
    chosen = web.post("/api/move", {"game": "tictactoe", "actions": [], "model": "1",
                                    "simulations": 8}).json()
    assert chosen["model"]["version"] == 1 and chosen["simulations"] == 8


def test_before_any_model_the_search_plays_alone(serve):
    answer = serve(publish_models=0).post("/api/move", {"game": "connect4", "actions": [],
                                                         "simulations": 16}).json()
    assert answer["model"]["name"] == "uniform (no model yet)"
    assert 0 <= answer["action"] < 7


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"game": "tictactoe", "simulations": 0}, 422, "simulations"),
    ({"game": "tictactoe", "simulations": 1601}, 422, "[web] max_simulations = 1600"),
    ({"game": "tictactoe", "model": "newest"}, 422, "model"),
    ({"game": "tictactoe", "model": "best"}, 404, "no tictactoe model has been promoted"),
    ({"game": "tictactoe", "model": "99"}, 404, "no model version 99"),
    ({"game": "tictactoe", "actions": [0, 3, 1, 4, 2]}, 409, "already over"),
    ({"game": "tictactoe", "actions": [0, 0]}, 422, "action #1"),
    ({"game": "shogi"}, 404, "unknown game 'shogi'"),
])
def test_bad_move_requests_are_named(serve, body, status, words):
    response = serve().post("/api/move", body)
    assert response.status_code == status, response.text
    assert words in response.text


def test_a_full_pool_refuses_at_once_with_retry_after(serve):
    web = serve(search_threads=1, max_queued=0)
    release = threading.Event()
    started = threading.Event()

    def occupy() -> None:
        def blocked() -> None:
            started.set()
            release.wait(60)
        asyncio.run(web.resources.searches.run(blocked))

    holder = threading.Thread(target=occupy)
    holder.start()
    try:
        assert started.wait(30)
        refused = web.post("/api/move", {"game": "tictactoe", "simulations": 4})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "busy" in refused.json()["detail"]
    finally:
        release.set()
        holder.join(60)
    assert web.post("/api/move", {"game": "tictactoe", "simulations": 4}).status_code == 200
    metrics = web.get("/metrics").text
    assert "cartridge_web_refused_total 1.0" in metrics
    assert 'cartridge_web_requests_total{route="/api/move",status="503"} 1.0' in metrics
    assert 'cartridge_web_search_seconds_count{game="tictactoe"} 1.0' in metrics


def test_the_model_cache_keeps_the_newest_models(serve):
    web = serve(publish_models=3, model_cache=2)
    for version in ("1", "2", "3", "2"):
        assert web.post("/api/move", {"game": "tictactoe", "model": version,
                                      "simulations": 2}).status_code == 200
    assert web.resources.catalog.cached() == [("tictactoe", 3), ("tictactoe", 2)]


def test_a_corrupt_model_is_refused_with_a_message(serve):
    web = serve(publish_models=1)
    onnx = web.store().game_dir / "v000001" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-8] + b"corrupt!")
    response = web.post("/api/move", {"game": "tictactoe", "simulations": 2})
    assert response.status_code == 500
    assert "cannot be played" in response.json()["detail"]


def test_the_web_service_does_not_import_torch():
    code = ("import sys, web.cli, web.app, web.resources, web.routes.play\n"
            "assert 'onnxruntime' in sys.modules and 'fastapi' in sys.modules\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
