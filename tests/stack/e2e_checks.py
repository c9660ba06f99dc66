"""Checks on the running compose stack; scripts/e2e.sh runs this after
`docker compose --profile k8s up --scale actor=N` (not a pytest module: it needs the stack).

    1. the trainer publishes at least two model versions to the S3 store
    2. Prometheus reports every actor and the trainer as up targets, and has the
       dashboard's series (self-play, losses, replay size, reload latency)
    3. every actor reaches the model version that was `latest` at one moment (lag reported);
       the arena records ratings in PostgreSQL and promotes a version to `best`
    4. killing an actor (SIGKILL) loses no game the replay store acknowledged to it
    5. a killed and restarted trainer resumes from its last checkpoint step
    6. each actor and the trainer sized its thread pool to its compose CPU limit
    7. the web service answers a move with the trained model through its API, and its
       dashboard API shows the stack's training history and live actors
    8. `docker compose down` leaves nothing running

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
    # The actors play int8 (scripts/e2e.sh): the trainer must publish int8 models. The
    # newest version is checked: retention may delete older ones meanwhile.
    if store.info(versions[-1]).int8_sha256 is None:
        raise CheckFailedError(f"version {versions[-1]} was published without an int8 model")
    log.info("PASS the trainer published model versions %s, with int8 models", versions)
    return versions[-1]


def check_targets_up() -> None:
    def up() -> dict[str, int] | None:
        targets = prometheus("/api/v1/targets", state="active")["activeTargets"]
        count = {"actor": 0, "trainer": 0, "web": 0}
        for target in targets:
            job = target["labels"].get("job")
            if job in count and target["health"] == "up":
                count[job] += 1
        return count if count == {"actor": ACTORS, "trainer": 1, "web": 1} else None

    counts = wait_for(f"{ACTORS} actor targets, the trainer and the web service up in "
                      "Prometheus", up, timeout=120)
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


def check_actors_reach_latest(store: S3ModelStore) -> None:
    """Every actor reaches a version at least as new as `latest` read at one fixed moment.

    The trainer publishes every few seconds and Prometheus scrapes every 5 s, so "every
    actor on the newest version" is rarely true at any one instant; catching up with a
    fixed target, within a bound, is what hot reload promises. The lag is reported."""
    target = wait_for("a latest pointer", lambda: store.pointer("latest"), timeout=60)
    fixed_at = time.monotonic()

    def all_reached() -> list[int] | None:
        result = prometheus("/api/v1/query", query='cartridge_actor_model_version{job="actor"}')
        versions = sorted(int(float(r["value"][1])) for r in result["result"])
        if len(versions) == ACTORS and versions[0] >= target:
            return versions
        # Raised, not returned: a timeout then reports what the actors were playing.
        raise CheckFailedError(f"{len(versions)} actors report versions {versions} "
                               f"{time.monotonic() - fixed_at:.0f} s after the target")

    versions = wait_for(f"every actor to play model version {target} or newer", all_reached,
                        timeout=120, every=1.0)
    log.info("PASS all %d actors reached model version %d within %.1f s, Prometheus scrape "
             "interval included (actors report %s)", ACTORS, target,
             time.monotonic() - fixed_at, versions)


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


RESUMED = re.compile(r"resumed from model version (\d+) at step (\d+)")


def check_trainer_resumes(store: S3ModelStore) -> None:
    """A SIGKILLed trainer, started again, resumes from a checkpoint at least as new as the
    newest complete version before the kill (a kill between a version's metadata and the
    `latest` pointer leaves that newer version, which is the right one), at its step."""
    trainer = containers("trainer")[0]
    resumes_before = len(RESUMED.findall(logs(trainer)))
    newest_before = store.versions()[-1]
    sh("docker", "kill", trainer)
    sh("docker", "start", trainer)

    def resumed() -> tuple[int, int] | None:
        found = RESUMED.findall(logs(trainer))
        return tuple(map(int, found[-1])) if len(found) > resumes_before else None

    version, step = wait_for("the restarted trainer to log 'resumed from model version'",
                             resumed, timeout=180)
    if version < newest_before or store.info(version).step != step:
        raise CheckFailedError(f"the trainer resumed from version {version} at step {step}; "
                               f"version {newest_before} existed before the kill, and version "
                               f"{version} holds step {store.info(version).step}")
    log.info("PASS restarted trainer resumed from model version %d at step %d (newest before "
             "the kill: %d)", version, step, newest_before)


def check_threads_follow_cpu_limits() -> None:
    """ACTOR_CPUS / TRAINER_CPUS / ARENA_CPUS become cgroup CPU quotas; the services read
    them and log the pool sizes they chose (no thread setting reaches them)."""
    expected = {"actor": ("ONNX Runtime intra-op pool", float(ENV.get("ACTOR_CPUS", "1"))),
                "trainer": ("PyTorch intra-op pool", float(ENV.get("TRAINER_CPUS", "2"))),
                "arena": ("ONNX Runtime intra-op pool", float(ENV.get("ARENA_CPUS", "1")))}
    for service, (pool, cpus) in expected.items():
        for container in containers(service):
            text = logs(container)
            match = re.search(rf"{pool}: (\d+) threads \((.*)\)", text)
            if not match:
                raise CheckFailedError(f"{service} {container} logged no {pool!r} line")
            threads, reason = int(match.group(1)), match.group(2)
            # The quota caps the budget unless the machine has fewer CPUs than the limit.
            want = max(1, int(min(cpus, os.cpu_count() or 1)))
            if threads != want or (cpus < (os.cpu_count() or 1) and "cgroup CPU quota"
                                   not in reason):
                raise CheckFailedError(f"{service} {container}: {threads} threads ({reason}); "
                                       f"its CPU limit is {cpus:g}")
            log.info("PASS %s %s: %s %d threads (%s)", service, container[:12], pool, threads,
                     reason)


def check_web_plays_the_model(store: S3ModelStore) -> None:
    """A move through the web service's API, from the model store the stack trains into."""
    url = f"http://127.0.0.1:{ENV['WEB_PORT']}"

    def move() -> dict[str, Any] | None:
        request = urllib.request.Request(
            f"{url}/api/move", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"game": ENV["CARTRIDGE_COMMON_ENV_ID"], "actions": [4],
                             "simulations": 16}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    answer = wait_for("the web service to answer a move", move, timeout=120)

    def dashboard() -> dict[str, Any] | None:
        with urllib.request.urlopen(f"{url}/api/dashboard/{ENV['CARTRIDGE_COMMON_ENV_ID']}",
                                    timeout=30) as response:
            data = json.load(response)
        live = [a for a in data["selfplay"]["actors"] if a["state"] == "live"]
        return data if len(data["training"]) >= 2 and live and data["replay"] else None

    # Its dashboard shows the running stack: the trainer's history and the actors'
    # heartbeats reach it through the shared PostgreSQL journal (it shares no disk).
    board = wait_for("the dashboard to show training rows and live actors", dashboard,
                     timeout=120)
    if answer["model"]["version"] < 1 or answer["position"]["actions"][:1] != [4]:
        raise CheckFailedError(f"unexpected answer from the web service: {answer}")
    with urllib.request.urlopen(f"{url}/api/models/{ENV['CARTRIDGE_COMMON_ENV_ID']}",
                                timeout=30) as response:
        listing = json.load(response)
    if listing["latest"] is None or listing["latest"] > (store.pointer("latest") or 0):
        raise CheckFailedError(f"the web service lists {listing['latest']} as latest")
    log.info("PASS the web service played %s with model %s (value %+.3f); it lists %d "
             "versions; its dashboard shows %d training rows (newest step %d), %d live actors "
             "and %d replay positions", answer["action"], answer["model"]["name"],
             answer["value"], len(listing["versions"]), len(board["training"]),
             board["training"][-1]["step"],
             sum(a["state"] == "live" for a in board["selfplay"]["actors"]),
             board["replay"]["positions"])


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
    check_actors_reach_latest(store)
    check_arena_rates_and_promotes(store)
    check_nothing_restarted()
    check_actor_kill_loses_nothing()
    check_threads_follow_cpu_limits()
    check_web_plays_the_model(store)
    check_trainer_resumes(store)
    check_down_leaves_nothing()
    return 0


if __name__ == "__main__":
    sys.exit(main())
