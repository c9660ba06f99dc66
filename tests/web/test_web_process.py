"""`python -m web` as a process: it serves on the port it reports, stops on SIGTERM, and
refuses bad settings or a taken port with one line naming them; `cartridge run` starts
it and prints its URL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.actor.helpers import REPO

CONFIG = str(REPO / "config.toml")


def clean_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    return {**env, **variables}


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.05)
    return path.read_text().strip()


def test_serves_on_the_port_it_reports_and_stops_on_sigterm(tmp_path: Path):
    url_file, log = tmp_path / "web.url", tmp_path / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web", "--config", CONFIG, "--port", "0",
             "--url-file", str(url_file)],
            env=clean_env(CARTRIDGE_COMMON_DATA_DIR=str(tmp_path)), stdout=out,
            stderr=subprocess.STDOUT)
    try:
        url = wait_for_file(url_file, process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
        deadline = time.monotonic() + 60
        while True:  # the port is bound before uvicorn starts answering
            try:
                health = httpx.get(url + "healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        assert health.json()["status"] == "ok"
        page = httpx.get(url + "play", timeout=5)
        assert page.status_code == 200 and "<title>Cartridge - play the model</title>" in page.text
        assert httpx.get(url + "static/play.js", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log.read_text()
    assert f"play page: {url}" in log.read_text()


def test_a_taken_port_is_refused_naming_it(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "web", "--config", CONFIG, "--port", str(port)],
            env=clean_env(CARTRIDGE_COMMON_DATA_DIR=str(tmp_path)), capture_output=True,
            text=True, timeout=120)
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port} ([web] host, port)" in result.stderr


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("CARTRIDGE_WEB_SEARCH_THREADS", "0", "web.search_threads"),
    ("CARTRIDGE_WEB_MAX_SIMULATIONS", "lots", "web.max_simulations"),
    ("CARTRIDGE_WEB_COLOUR", "blue", "CARTRIDGE_WEB_COLOUR"),
])
def test_bad_settings_exit_2_naming_the_key(tmp_path: Path, variable, value, named):
    result = subprocess.run([sys.executable, "-m", "web", "--config", CONFIG],
                            env=clean_env(**{variable: value}), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_cartridge_run_starts_the_web_service_and_prints_its_url(tmp_path: Path):
    output = tmp_path / "run.out"
    env = clean_env(CARTRIDGE_WEB_PORT="0", CARTRIDGE_RUN_ACTORS="1",
                    CARTRIDGE_RUN_ARENA="false", CARTRIDGE_MCTS_NUM_SIMULATIONS="4",
                    CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS="4",
                    CARTRIDGE_TRAINING_DEVICE="cpu")
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cartridge.cli.main", "run", "--config", CONFIG,
             "--data-dir", str(tmp_path / "data")],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (match := re.search(r"web: play the model at (http://\S+/)",
                                      output.read_text())):
            assert process.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < deadline, output.read_text()[-3000:]
            time.sleep(0.1)
        url = match.group(1)
        while True:
            try:
                answer = httpx.post(url + "api/move", json={"game": "tictactoe",
                                                            "simulations": 4}, timeout=30)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        assert 0 <= answer.json()["action"] < 9
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0, output.read_text()[-3000:]
    assert "the web service" in output.read_text()  # stopped with the rest
