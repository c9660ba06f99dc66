"""Section `web_load`: play requests against a real `python -m web` on loopback.

The service runs with the config.toml defaults ([web] search_threads and max_queued,
the default 200-simulation request) over a Connect Four model of the default network
(random weights: speed does not depend on them). CLIENTS client threads send
/api/move requests for DURATION_S seconds (CARTRIDGE_BENCH_WEB_SECONDS overrides) in two
rounds: within the bound (as many clients as the pool holds) and past it (three times
that). Reported per round: requests/s answered, p50/p95 latency of the answered ones,
and how many were refused at once with 503 (the bound working) and how fast.
"""

from __future__ import annotations

import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.network import build_network, export_onnx

log = logging.getLogger("bench.web_load")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
ENV = "connect4"
DURATION_S = 30.0
OPENING = [3, 3, 2, 4]  # a position with some play in it


def run() -> dict[str, Any]:
    seconds = float(os.environ.get("CARTRIDGE_BENCH_WEB_SECONDS", DURATION_S))
    settings = load_settings(CONFIG, environ={})
    capacity = settings.web.search_threads + settings.web.max_queued
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        data = Path(tmp)
        game, network = get_game(ENV), settings.network.for_game(ENV)
        FilesystemModelStore(data / "models", ENV).publish(
            export_onnx(build_network(game, network), game, network, step=1), b"checkpoint",
            step=1, network=network.model_dump())
        url_file = data / "web.url"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "web", "--config", str(CONFIG), "--port", "0",
             "--url-file", str(url_file)],
            env={**env, "CARTRIDGE_COMMON_DATA_DIR": str(data)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = _wait_for_url(url_file, server)
            _move(url)  # warm: the model is loaded once
            within = _round(url, clients=capacity, seconds=seconds)
            past = _round(url, clients=3 * capacity, seconds=seconds)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    return {"env_id": ENV, "simulations": 200, "search_threads": settings.web.search_threads,
            "max_queued": settings.web.max_queued, "within_bound": within,
            "past_bound": past}


def _round(url: str, *, clients: int, seconds: float) -> dict[str, Any]:
    answered: list[float] = []
    refused: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = _move(url, http)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        answered.append(elapsed)
                    elif response.status_code == 503:
                        refused.append(elapsed)
                    else:
                        errors.append(f"{response.status_code} {response.text[:100]}")
                if response.status_code == 503:  # as a well-behaved client does
                    time.sleep(float(response.headers.get("Retry-After", "1")))

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    result = {
        "clients": clients,
        "answered": len(answered),
        "requests_per_s": round(len(answered) / elapsed, 2),
        "p50_s": round(statistics.median(answered), 3) if answered else None,
        "p95_s": round(statistics.quantiles(answered, n=20)[-1], 3) if len(answered) > 1
        else None,
        "refused_503": len(refused),
        "refused_p95_s": round(statistics.quantiles(refused, n=20)[-1], 4) if len(refused) > 1
        else None,
        "errors": errors[:5],
    }
    log.info("%d clients: %s", clients, result)
    return result


def _move(url: str, http: httpx.Client | None = None) -> httpx.Response:
    body = {"game": ENV, "actions": OPENING, "simulations": 200}
    return (http or httpx).post(url + "api/move", json=body, timeout=120)


def _wait_for_url(path: Path, server: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while True:
        if path.exists():
            url = path.read_text().strip()
            try:
                httpx.get(url + "healthz", timeout=5)
                return url
            except httpx.TransportError:
                pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the web service did not start")
        time.sleep(0.1)
