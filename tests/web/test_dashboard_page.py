"""The dashboard in a real headless Chromium over a short real `cartridge run` (tic-tac-toe,
tiny settings, the arena and the web service started by the run): the trainer's history
and the actors' heartbeats reach the journal, and so do the arena's ratings and benchmark
figures; the page draws every chart from them with
plotly.js served by the app, and it updates without a reload. Saves a screenshot in
build/test-artifacts/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.actor.helpers import REPO
from tests.web.test_play_page import ARTIFACTS, CHROMIUM, TIMEOUT_MS

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]

RUN = {
    "CARTRIDGE_WEB_PORT": "0",
    "CARTRIDGE_RUN_ACTORS": "1",
    "CARTRIDGE_TRAINING_MIN_POSITIONS": "200",
    "CARTRIDGE_TRAINING_CHECKPOINT_INTERVAL": "10",
    "CARTRIDGE_TRAINING_BATCH_SIZE": "32",
    "CARTRIDGE_TRAINING_WARMUP_STEPS": "2",
    "CARTRIDGE_TRAINING_DEVICE": "cpu",
    "CARTRIDGE_TRAINING_WAIT_INTERVAL": "0.5",
    "CARTRIDGE_NETWORK_TICTACTOE_CHANNELS": "16",
    "CARTRIDGE_MCTS_NUM_SIMULATIONS": "8",
    "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "8",
    "CARTRIDGE_ACTOR_CONCURRENT_GAMES": "16",
    "CARTRIDGE_ARENA_NUM_SIMULATIONS": "4",
    "CARTRIDGE_ARENA_OPENINGS": "4",
    "CARTRIDGE_ARENA_PAUSE": "0",
}


def until(what: str, probe, process: subprocess.Popen, output: Path, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except httpx.TransportError:
            result = None
        if result:
            return result
        assert process.poll() is None, f"cartridge run exited:\n{output.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what}:\n{output.read_text()[-3000:]}"
        time.sleep(0.2)


def test_the_dashboard_draws_a_real_run_and_updates_live(tmp_path: Path):
    output = tmp_path / "run.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cartridge.cli.main", "run", "--config",
             str(REPO / "config.toml"), "--data-dir", str(tmp_path / "data")],
            env={**env, **RUN}, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = until("web URL", lambda: (m := re.search(r"web: play the model at (http://\S+/)",
                                                       output.read_text())) and m.group(1),
                    process, output)
        api = f"{url}api/dashboard/tictactoe"

        def enough() -> dict | None:
            data = httpx.get(api, timeout=10).json()
            live = data["selfplay"]["live_actors"] >= 1
            strength = data["strength"]
            rated = any(r["version"] is not None for r in strength["ratings"])
            return data if len(data["training"]) >= 2 and live and data["models"]["latest"] \
                and rated and strength["benchmarks"] else None

        data = until("training rows, a live actor, a model, its rating and benchmark", enough,
                     process, output)
        assert data["replay"]["positions"] > 0
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1500})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url + "dashboard")
                for chart in ("chart-loss", "chart-throughput", "chart-actors", "chart-ratings",
                              "chart-benchmark", "chart-replay"):
                    page.wait_for_selector(f"#{chart} .main-svg")  # drawn by plotly.js
                loss_points = page.locator("#chart-loss .scatterlayer .trace").count()
                assert loss_points == 3  # total, policy, value
                # Ratings: the model versions' line with its interval bars, then the anchors.
                assert page.locator("#chart-ratings .scatterlayer .trace").count() >= 2
                assert page.locator("#chart-ratings .errorbar").count() >= 1
                assert page.locator("#chart-benchmark .scatterlayer .trace").count() >= 1
                step_tile = page.locator(".tile", has_text="training step").locator(".value")
                first_step = int(step_tile.text_content())
                assert first_step >= 1
                # Live: the page polls; a newer step shows up without a reload.
                page.wait_for_function(
                    """(first) => {
                        const tile = [...document.querySelectorAll('.tile')]
                          .find((t) => t.textContent.includes('training step'));
                        return tile && Number(tile.querySelector('.value').textContent) > first;
                    }""", arg=first_step, timeout=120_000)
                assert page.locator("#actors tr").count() >= 2  # header + an actor
                assert "latest" in page.locator("#models").text_content()
                assert page.locator("#message").text_content() == ""
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.wait_for_timeout(500)  # let plotly finish its transition before the shot
                page.screenshot(path=str(ARTIFACTS / "dashboard-tictactoe.png"), full_page=True)
            finally:
                browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0, output.read_text()[-3000:]
