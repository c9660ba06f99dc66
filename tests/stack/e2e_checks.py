"""Checks on the running compose stack; scripts/e2e.sh runs this after
`docker compose --profile k8s up --scale actor=N` (not a pytest module: it needs the stack).

    1. the trainer publishes at least two model versions to the S3 store
    2. Prometheus reports every actor and the trainer as up targets, and has the
       dashboard's series (self-play, losses, replay size, reload latency)
    3. every actor plays with the newest model version; the arena records ratings in
       PostgreSQL and promotes a version to `best`
    4. killing an actor (SIGKILL) loses no game the replay store acknowledged to it
    5. a killed and restarted trainer resumes from its last checkpoint step
    6. `docker compose down` leaves nothing running

The S3 endpoint is the moto stand-in for MinIO, PostgreSQL the Debian stand-in
(tests/stack/standins/README.md). Environment: E2E_PROJECT_DIR (the checkout the
stack runs from, with its .env), E2E_PROJECT, E2E_ACTORS.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from minio import Minio

from cartridge.modelstore.s3 import S3ModelStore

log = logging.getLogger("e2e")
T = TypeVar("T")

PROJECT_DIR = Path(os.environ["E2E_PROJECT_DIR"])
PROJECT = os.environ["E2E_PROJECT"]
ACTORS = int(os.environ.get("E2E_ACTORS", "3"))


class CheckFailedError(AssertionError):
    pass


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; later lines win, as in compose."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


ENV = read_env(PROJECT_DIR / ".env")


def sh(*args: str, check: bool = True) -> str:
    result = subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise CheckFailedError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def logs(container: str) -> str:
    """The container's output so far (the trainer logs to stderr), every run of it."""
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True,
                            timeout=60)
    return result.stdout + result.stderr


def compose(*args: str, check: bool = True) -> str:
    return sh("docker", "compose", "--profile", "k8s", *args, check=check)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
    """probe() until it returns something other than None/False; the last error in the message."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
            last = result
        except Exception as err:  # retried until the deadline, then reported
            last = err
        time.sleep(every)
    raise CheckFailedError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def prometheus(path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{ENV['PROMETHEUS_PORT']}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise CheckFailedError(f"Prometheus {path}: {body}")
    return body["data"]


def model_store() -> S3ModelStore:
    """The stack's model store, once the minio-init job has created its bucket (opening
    the store first would create the bucket itself and hide a broken init job)."""
    client = Minio(f"127.0.0.1:{ENV['MINIO_PORT']}", access_key=ENV["MINIO_ROOT_USER"],
                   secret_key=ENV["MINIO_ROOT_PASSWORD"], secure=False)
    if not client.bucket_exists(ENV["S3_BUCKET"]):
        raise CheckFailedError(f"bucket {ENV['S3_BUCKET']!r} does not exist yet")
    return S3ModelStore(
        endpoint=f"127.0.0.1:{ENV['MINIO_PORT']}", bucket=ENV["S3_BUCKET"],
        env_id=ENV["CARTRIDGE_COMMON_ENV_ID"], access_key=ENV["MINIO_ROOT_USER"],
        secret_key=ENV["MINIO_ROOT_PASSWORD"], prefix="models", secure=False,
    )


def containers(service: str) -> list[str]:
    return compose("ps", "--quiet", service).split()


# ---- the checks ---------------------------------------------------------------------------


def check_models_published(store: S3ModelStore) -> int:
    versions = wait_for("two model versions in the S3 store",
                        lambda: len(store.versions()) >= 2 and store.versions(), timeout=420)
    log.info("PASS the trainer published model versions %s", versions)
    return versions[-1]


def check_targets_up() -> None:
    def up() -> dict[str, int] | None:
        targets = prometheus("/api/v1/targets", state="active")["activeTargets"]
        count = {"actor": 0, "trainer": 0}
        for target in targets:
            job = target["labels"].get("job")
            if job in count and target["health"] == "up":
                count[job] += 1
        return count if count == {"actor": ACTORS, "trainer": 1} else None

    counts = wait_for(f"{ACTORS} actor targets and the trainer up in Prometheus", up, timeout=120)
    log.info("PASS Prometheus targets up: %s", counts)


# Series the Grafana dashboard plots, with a floor each must exceed.
DASHBOARD_SERIES = {
    "sum(cartridge_actor_positions_total)": 0,
    "sum(cartridge_actor_stored_games_total)": 0,
    'count(cartridge_trainer_loss{kind="total"})': 0,
    "max(cartridge_trainer_steps_total)": 0,
    "max(cartridge_replay_positions)": 0,
    "sum(cartridge_actor_model_reload_latency_seconds_count)": 0,
}


def check_dashboard_series() -> None:
    def values() -> dict[str, float] | None:
        found = {}
        for query, floor in DASHBOARD_SERIES.items():
            result = prometheus("/api/v1/query", query=query)["result"]
            if not result or float(result[0]["value"][1]) <= floor:
                return None
            found[query] = float(result[0]["value"][1])
        return found

    found = wait_for("the dashboard's series in Prometheus", values, timeout=120)
    log.info("PASS Prometheus has the dashboard's series: %s",
             ", ".join(f"{q} = {v:g}" for q, v in found.items()))


def check_actors_on_newest(store: S3ModelStore) -> None:
    def all_on_latest() -> tuple[int, list[int]] | None:
        latest = store.pointer("latest")
        result = prometheus("/api/v1/query", query='cartridge_actor_model_version{job="actor"}')
        versions = sorted(int(float(r["value"][1])) for r in result["result"])
        if latest and len(versions) == ACTORS and all(v >= latest for v in versions):
            return latest, versions
        return None

    latest, versions = wait_for("every actor to play the newest model", all_on_latest,
                                timeout=180, every=1.0)
    log.info("PASS all %d actors play the newest model version %d (actors report %s)",
             ACTORS, latest, versions)


def _psql(query: str) -> str:
    return compose("exec", "-T", "postgres", "psql", "-U", "cartridge", "-d", "cartridge",
                   "-tAc", query).strip()


def check_arena_rates_and_promotes(store: S3ModelStore) -> None:
    # wait_for retries a failing query: the arena creates its tables at its first start.
    rated = wait_for("ratings of model versions in PostgreSQL", lambda: int(_psql(
        "SELECT count(*) FROM arena_ratings WHERE version IS NOT NULL")), timeout=300)
    promoted = wait_for("a promotion to best in PostgreSQL", lambda: int(_psql(
        "SELECT coalesce(max(version), 0) FROM arena_promotions")), timeout=300)
    best = store.pointer("best")
    if best is None or best < promoted:
        raise CheckFailedError(f"the journal promoted v{promoted}, the store's best is {best}")
    log.info("PASS the arena rated %d versions in PostgreSQL and promoted v%d (best = v%d)",
             rated, promoted, best)


def _stored_games(container: str) -> int:
    script = ("import os, urllib.request as r; print(r.urlopen('http://127.0.0.1:%s/metrics' % "
              "os.environ['CARTRIDGE_ACTOR_METRICS_PORT'], timeout=5).read().decode())")
    text = sh("docker", "exec", container, "python3", "-c", script)
    match = re.search(r"^cartridge_actor_stored_games_total\{[^}]*\} (\S+)$", text, re.M)
    if not match:
        raise CheckFailedError(f"actor {container} exports no cartridge_actor_stored_games_total")
    return int(float(match.group(1)))


def _games_in_postgres(actor_prefix: str) -> int:
    sql = f"SELECT count(*) FROM replay_games WHERE actor_id LIKE '{actor_prefix}-%'"
    out = compose("exec", "-T", "postgres", "psql", "-U", "cartridge", "-d", "cartridge",
                  "-tAc", sql)
    return int(out.strip())


def check_nothing_restarted() -> None:
    """No actor, trainer or arena crashed and was restarted by the restart policy so far."""
    for service in ("actor", "trainer", "arena"):
        for container in containers(service):
            restarts = int(sh("docker", "inspect", "--format", "{{.RestartCount}}",
                              container).strip() or 0)
            if restarts:
                raise CheckFailedError(f"{service} {container} restarted {restarts} times:\n"
                                       f"{logs(container)[-3000:]}")
    log.info("PASS no actor, trainer or arena restarted on its own")


def check_actor_kill_loses_nothing() -> None:
    victim = containers("actor")[0]
    hostname = sh("docker", "inspect", "--format", "{{.Config.Hostname}}", victim).strip()
    wait_for("the actor's first acknowledged games", lambda: _stored_games(victim) > 0, 120)
    acknowledged = _stored_games(victim)
    sh("docker", "kill", victim)  # SIGKILL: no flush, no goodbye
    stored = _games_in_postgres(hostname)
    if stored < acknowledged:
        raise CheckFailedError(f"actor {hostname} was told {acknowledged} games were stored, "
                               f"PostgreSQL holds {stored}")
    log.info("PASS killed actor %s: %d games acknowledged before the kill, %d in PostgreSQL",
             hostname, acknowledged, stored)


def check_trainer_resumes(store: S3ModelStore) -> None:
    trainer = containers("trainer")[0]
    sh("docker", "kill", trainer)
    time.sleep(1.0)
    latest = store.pointer("latest")
    assert latest is not None
    step = store.info(latest).step
    sh("docker", "start", trainer)
    expected = f"resumed from model version {latest} at step {step}"
    wait_for(f"the restarted trainer to log {expected!r}",
             lambda: expected in logs(trainer), timeout=180)
    log.info("PASS restarted trainer %s", expected)


def check_down_leaves_nothing() -> None:
    # Plain `docker compose down`: .env's COMPOSE_PROFILES=k8s covers the actors and trainer.
    sh("docker", "compose", "down", "--timeout", "20")
    left = sh("docker", "ps", "--all", "--quiet", "--filter",
              f"label=com.docker.compose.project={PROJECT}").split()
    if left:
        raise CheckFailedError(f"`docker compose down` left containers: {left}")
    log.info("PASS `docker compose down` left no containers")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s e2e: %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # retries while the stack starts
    store = wait_for("the minio-init job to create the bucket", model_store, timeout=300)
    check_models_published(store)
    check_targets_up()
    check_dashboard_series()
    check_actors_on_newest(store)
    check_arena_rates_and_promotes(store)
    check_nothing_restarted()
    check_actor_kill_loses_nothing()
    check_trainer_resumes(store)
    check_down_leaves_nothing()
    return 0


if __name__ == "__main__":
    sys.exit(main())
