"""Section `reload`: time from a model publish to every one of 4 actors playing it.

Models live in S3. No MinIO server can be installed on these machines, so the
S3 server is moto's (`moto[server]`) on loopback, standing in for MinIO; actors
and publisher use the production `minio` client code. Four `python -m actor`
processes run the config.toml defaults (reload_interval, concurrent games,
simulations) with a shared SQLite replay buffer; this process publishes the
tic-tac-toe default network PUBLISHES times, the way the trainer does
(`ModelStore.publish`), and reads each actor's status file, which the actor
rewrites the moment it swaps models (`model_loaded_at`).

- `publish_s`: the upload itself (blobs, metadata, pointer), median and p95.
- `p50_s`, `p95_s`: from the end of the publish (the pointer moved) to the
  moment the slowest of the 4 actors plays the new version.
Publishes are spaced by a random pause so they fall at random points of the
actors' polling cycles.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cartridge.config import load_settings
from cartridge.modelstore.s3 import S3ModelStore

log = logging.getLogger("bench.reload")
REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config.toml"
ACTORS = 4
PUBLISHES = 22  # the first is warm-up
TIMEOUT_S = 60.0
ACCESS_KEY, SECRET_KEY, BUCKET = "bench-access", "bench-secret-key", "cartridge"


def run() -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    settings = load_settings(CONFIG)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    onnx = _default_onnx(settings)
    actors: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
            data = Path(tmp) / "data"
            store = S3ModelStore(endpoint=f"127.0.0.1:{port}", bucket=BUCKET, env_id="tictactoe",
                                 access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
            env = _environment(port, data)
            ids = [f"bench-{i}" for i in range(ACTORS)]
            actors = [subprocess.Popen(
                [sys.executable, "-m", "actor", "--config", str(CONFIG), "--actor-id", a],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for a in ids]
            _wait(lambda: all(_status(data, a) for a in ids), actors, "actors to start")
            rng = np.random.default_rng(0)
            publish_s, reload_s = [], []
            for index in range(PUBLISHES):
                time.sleep(float(rng.uniform(0.5, 1.5)))
                began = time.time()
                info = store.publish(onnx, b"bench", step=index, network={"bench": True})
                published = time.time()
                _wait(lambda v=info.version: all(
                    _status(data, a).get("model_version", 0) >= v for a in ids),
                    actors, f"every actor on v{info.version}")
                loaded = max(_status(data, a)["model_loaded_at"] for a in ids)
                if index == 0:
                    continue  # warm-up: first ONNX Runtime session in each actor
                publish_s.append(published - began)
                reload_s.append(loaded - published)
                log.info("v%d: publish %.3f s, every actor playing it %.3f s later",
                         info.version, publish_s[-1], reload_s[-1])
    finally:
        for process in actors:
            process.send_signal(signal.SIGTERM)
        for process in actors:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
    return {
        "store": "s3 (moto server on loopback, standing in for MinIO)",
        "actors": ACTORS,
        "publishes": len(reload_s),
        "reload_interval_s": settings.actor.reload_interval,
        "p50_s": round(float(np.percentile(reload_s, 50)), 3),
        "p95_s": round(float(np.percentile(reload_s, 95)), 3),
        "max_s": round(max(reload_s), 3),
        "publish_s": round(float(np.median(publish_s)), 4),
        "publish_p95_s": round(float(np.percentile(publish_s, 95)), 4),
        "onnx_bytes": len(onnx),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _environment(port: int, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    return {**env, "CARTRIDGE_COMMON_DATA_DIR": str(data),
            "CARTRIDGE_STORAGE_MODEL_BACKEND": "s3",
            "CARTRIDGE_STORAGE_S3_ENDPOINT": f"127.0.0.1:{port}",
            "CARTRIDGE_STORAGE_S3_BUCKET": BUCKET,
            "CARTRIDGE_STORAGE_S3_ACCESS_KEY": ACCESS_KEY,
            "CARTRIDGE_STORAGE_S3_SECRET_KEY": SECRET_KEY,
            # As `cartridge run` sets it: one inference thread per actor on a small machine.
            "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": "1"}


def _default_onnx(settings) -> bytes:
    from cartridge.games import get_game
    from cartridge.network import build_network, export_onnx

    game = get_game("tictactoe")
    config = settings.network.for_game(game.id)
    return export_onnx(build_network(game, config), game, config, step=0)


def _status(data: Path, actor_id: str) -> dict[str, Any]:
    try:
        return json.loads((data / "actors" / f"{actor_id}.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait(condition, actors: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if any(p.poll() is not None for p in actors):
            raise RuntimeError(f"an actor exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
