"""Three actor processes and a trainer on loopback, models in S3.

No MinIO server can be installed on these machines: the S3 server is moto's
(`tests/modelstore/conftest.py`), which stands in for MinIO; actors and trainer
use the production `minio` client code against it.

- every new version reaches all actors;
- the S3 server stops for a while and comes back on the same port: actors keep
  playing meanwhile, nothing is lost (every checkpoint the trainer made is
  published, every game is stored), and the actors catch up with the newest version;
- a corrupted model object under a valid `latest` pointer: actors keep the old model.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.modelstore import layout
from tests.actor.helpers import (
    REPO,
    TINY_NETWORK,
    config_opening_plies,
    read_games,
    read_status,
    tiny_onnx,
    wait_for,
    whole_game_problem,
)
from tests.modelstore.conftest import ACCESS_KEY, SECRET_KEY, S3Server, make_s3_store

pytestmark = pytest.mark.slow
ACTORS = ["a0", "a1", "a2"]


def environment(server: S3Server, bucket: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    return {
        **env,
        "CARTRIDGE_COMMON_DATA_DIR": str(data),
        "CARTRIDGE_STORAGE_MODEL_BACKEND": "s3",
        "CARTRIDGE_STORAGE_S3_ENDPOINT": server.endpoint,
        "CARTRIDGE_STORAGE_S3_BUCKET": bucket,
        "CARTRIDGE_STORAGE_S3_ACCESS_KEY": ACCESS_KEY,
        "CARTRIDGE_STORAGE_S3_SECRET_KEY": SECRET_KEY,
        "CARTRIDGE_TRAINING_MIN_POSITIONS": "200",
        "CARTRIDGE_TRAINING_CHECKPOINT_INTERVAL": "15",
        "CARTRIDGE_TRAINING_BATCH_SIZE": "64",
        "CARTRIDGE_TRAINING_WARMUP_STEPS": "5",
        "CARTRIDGE_TRAINING_DEVICE": "cpu",
        "CARTRIDGE_TRAINING_WAIT_INTERVAL": "0.5",
        "CARTRIDGE_NETWORK_TICTACTOE_CHANNELS": "32",
        "CARTRIDGE_MCTS_NUM_SIMULATIONS": "16",
        "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "16",
        "CARTRIDGE_ACTOR_CONCURRENT_GAMES": "16",
        "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": "1",
        "CARTRIDGE_STORAGE_MODEL_KEEP_LAST": "0",  # keep every version: all are checked
    }


def spawn(module: str, env: dict[str, str], log: Path, *flags: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(REPO / "config.toml"), *flags],
            env=env, stdout=out, stderr=subprocess.STDOUT)


def test_versions_reach_every_actor_through_an_outage_and_a_corrupt_upload(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    data = tmp_path / "data"
    store = make_s3_store(s3_server, s3_bucket)  # creates the bucket
    env = environment(s3_server, s3_bucket, data)
    logs = {name: tmp_path / f"{name}.log" for name in ["trainer", *ACTORS]}
    actors = {a: spawn("actor", env, logs[a], "--actor-id", a) for a in ACTORS}
    trainer = spawn("trainer", env, logs["trainer"])
    processes = {"trainer": trainer, **actors}

    def dead() -> str | None:
        for name, process in processes.items():
            if process.poll() is not None:
                return f"{name} exited {process.returncode}:\n{logs[name].read_text()[-3000:]}"
        return None

    def status(name: str) -> dict:
        return read_status(data).get(name, {})

    def all_on(version: int) -> bool:
        return all(status(a).get("model_version", 0) >= version for a in ACTORS)

    try:
        # ---- every new version reaches all actors ------------------------------------
        for target in (1, 3):
            wait_for(lambda t=target: (store.pointer("latest") or 0) >= t, 300,
                     f"version {target}", dead)
            newest = store.pointer("latest")
            wait_for(lambda v=newest: all_on(v), 60, f"every actor on v{newest}", dead)

        # ---- S3 outage: actors keep playing, nothing lost, they catch up --------------
        before = store.pointer("latest")
        logged = {a: logs[a].stat().st_size for a in ACTORS}
        s3_server.stop()

        def seen_the_outage(a: str) -> bool:
            with logs[a].open("rb") as log:
                log.seek(logged[a])
                return b"unavailable" in log.read()

        wait_for(lambda: all(seen_the_outage(a) for a in ACTORS), 60,
                 "every actor to see the outage", dead)
        # Counted once each has seen the store down, so the growth is play during the outage.
        positions = {a: status(a)["positions"] for a in ACTORS}
        wait_for(lambda: all(status(a)["positions"] > positions[a] for a in ACTORS), 60,
                 "every actor to keep playing while S3 is down (self-play stalled?)", dead)
        s3_server.start()
        wait_for(lambda: (store.pointer("latest") or 0) > before, 300,
                 "a version published after the outage", dead)
        caught_up = store.pointer("latest")
        wait_for(lambda: all_on(caught_up), 90, "every actor to catch up", dead)

        # ---- the trainer stops cleanly: every checkpoint it made is published ---------
        trainer.send_signal(signal.SIGTERM)
        del processes["trainer"]
        assert trainer.wait(120) == 0, logs["trainer"].read_text()[-3000:]
        final = store.pointer("latest")
        # Every checkpoint (each 15 steps, and the last one at SIGTERM) is published once,
        # in order. Version numbers may skip one: a publish cut off by the outage leaves a
        # claimed, never-finished version (no metadata), and its retry claims the next.
        versions = store.versions()
        assert versions[-1] == final
        steps = [store.info(version).step for version in versions]
        assert steps == sorted(set(steps)), steps
        assert [s for s in steps if s % 15 == 0] == list(range(15, steps[-1] + 1, 15)), steps
        for version in versions:
            store.load_onnx(version)
        wait_for(lambda: all_on(final), 90, f"every actor on the final v{final}", dead)

        # ---- a corrupted object under a valid pointer ---------------------------------
        bad = upload_corrupt_version(store, final + 1)
        assert store.pointer("latest") == bad
        wait_for(lambda: all(bad in status(a).get("refused_versions", []) for a in ACTORS),
                 60, "every actor to refuse the corrupt version", dead)
        assert [status(a)["model_version"] for a in ACTORS] == [final] * 3
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(120) for name, process in processes.items()}

    assert codes == dict.fromkeys(ACTORS, 0), codes
    for a in ACTORS:
        text = logs[a].read_text()
        assert "unavailable" in text  # the outage was seen, and survived
        assert f"refusing model version {bad}" in text
    games = read_games(data / "replay.db")
    assert len(games) == sum(status(a)["games_stored"] for a in ACTORS)
    assert {g.actor_id for g in games} == set(ACTORS)
    assert bad not in {v for g in games for v in g.model_versions}
    problems = [p for g in games if (p := whole_game_problem(g, config_opening_plies()))]
    assert not problems, problems[:3]


def upload_corrupt_version(store, version: int) -> int:
    """Valid metadata and `latest` pointer; the model object's bytes are damaged."""
    onnx = tiny_onnx(seed=7)
    info = layout.new_info(store.env_id, version, onnx, b"ck", step=10**6, network=TINY_NETWORK)
    base = f"{store.base}/{layout.version_name(version)}"
    damaged = onnx[:-64] + bytes(64)
    for name, data in ((layout.ONNX_NAME, damaged), (layout.CHECKPOINT_NAME, b"ck"),
                       (layout.META_NAME, layout.encode_info(info))):
        store.client.put_object(store.bucket, f"{base}/{name}", io.BytesIO(data), len(data))
    pointer = layout.encode_pointer(info)
    store.client.put_object(store.bucket, f"{store.base}/latest", io.BytesIO(pointer),
                            len(pointer))
    return version
