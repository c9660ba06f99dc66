#!/usr/bin/env bash
# `make e2e`: build the images on podman (through the Docker CLI and Compose v2), run
# exactly `docker compose --profile k8s up --scale actor=3` from a fresh copy of this
# working tree, check the running stack (tests/stack/e2e_checks.py), and tear it all
# down, also when something fails. See ../shared/CONTAINERS.md for the machine facts.
#
# PostgreSQL, MinIO, Prometheus and Grafana are replaced by local STAND-IN images
# (tests/stack/standins/README.md) through the compose files' image variables: no
# registry can be reached here. The Cartridge images are the real ones, built from a
# local Debian 12 base image (BASE_IMAGE) and a wheelhouse of the pinned requirements.
#
# Cached between runs: the base and stand-in images (podman's store) and the
# wheelhouses. `E2E_COLD=1 make e2e` drops those caches first.
#
# Two runs may share a machine: each has its own compose project (E2E_PROJECT, default
# cartridge-e2e-<random>), folder (E2E_DIR, default build/e2e/<project>), podman service
# (scripts/lib/engine.sh) and host ports (E2E_{MINIO,MINIO_CONSOLE,PROMETHEUS,GRAFANA,WEB}_PORT,
# default: free ones picked right before `up`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/lib/engine.sh

PROJECT=${E2E_PROJECT:-cartridge-e2e-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
E2E_DIR=${E2E_DIR:-$ROOT/build/e2e/$PROJECT}
WORK=$E2E_DIR/checkout            # the "fresh checkout" the stack runs from
WHEELHOUSE=$ROOT/requirements/wheelhouse
STANDIN_WHEELS=$STACK_DIR/standin-wheels
ACTORS=3
started_at=$(date +%s)
# The whole run, builds included, must fit in this many seconds (teardown comes after).
# Generous enough for a cold run (debootstrap, wheel downloads, every image built from
# scratch); the phase durations are logged, so a slow phase shows which one it was.
deadline=$((started_at + ${E2E_TIMEOUT:-2700}))
remaining() { echo $((deadline - $(date +%s) > 1 ? deadline - $(date +%s) : 1)); }
phase_name=""
phase_started=$started_at
phases=()
phase() {  # ends the current phase (logging how long it took) and starts the next one
    local now
    now=$(date +%s)
    if [[ -n $phase_name ]]; then
        phases+=("$phase_name $((now - phase_started))s")
        log "$phase_name took $((now - phase_started))s"
    fi
    phase_name=$1
    phase_started=$now
}
pump_pid=""
up_pid=""

dump_logs() {
    [[ -d $WORK ]] || return 0
    mkdir -p "$E2E_DIR/logs"
    (cd "$WORK" && docker compose --profile k8s logs --no-color --timestamps \
        >"$E2E_DIR/logs/compose.log" 2>&1) || true
    log "container logs: $E2E_DIR/logs/compose.log"
}

teardown() {
    local status=$?
    set +e
    [[ $status -ne 0 ]] && dump_logs
    if [[ -f $WORK/docker-compose.yml ]] && docker version >/dev/null 2>&1; then
        (cd "$WORK" && docker compose --profile k8s --profile orchestrator down \
            --volumes --remove-orphans --timeout 10 >/dev/null 2>&1)
    fi
    [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
    [[ -n $pump_pid ]] && kill "$pump_pid" 2>/dev/null && wait "$pump_pid" 2>/dev/null
    # This run's image names only: an identical build of another run shares the image.
    podman untag "localhost/$PROJECT-actor:latest" "localhost/$PROJECT-actor:latest" 2>/dev/null
    podman untag "localhost/$PROJECT-trainer:latest" "localhost/$PROJECT-trainer:latest" 2>/dev/null
    podman untag "localhost/$PROJECT-web:latest" "localhost/$PROJECT-web:latest" 2>/dev/null
    podman untag "localhost/$PROJECT-arena:latest" "localhost/$PROJECT-arena:latest" 2>/dev/null
    engine_stop
    [[ $status -eq 0 ]] && rm -rf "$WORK"
    phase ""
    log "phases: $(IFS=,; echo "${phases[*]:-none}")"
    log "finished in $(($(date +%s) - started_at))s: $([[ $status -eq 0 ]] && echo PASSED || echo "FAILED ($status)")"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Podman has no systemd here, so it never runs healthchecks by itself and
# `depends_on: condition: service_healthy` would wait forever: run them every second.
pump_healthchecks() {
    while true; do
        for name in $(podman ps --filter health=starting --format '{{.Names}}' 2>/dev/null); do
            podman healthcheck run "$name" >/dev/null 2>&1 || true
        done
        sleep 1
    done
}

# ---- 1. engine --------------------------------------------------------------------------
log "project $PROJECT in $E2E_DIR"
phase engine
engine_install
engine_start
if [[ ${E2E_COLD:-0} == 1 ]]; then
    log "cold run: dropping the cached base image, stand-ins and wheelhouses"
    podman rmi -f "$BASE_IMAGE_LOCAL" localhost/cartridge-standin-{postgres,s3,prometheus,grafana} \
        "localhost/$PROJECT-actor" "localhost/$PROJECT-trainer" "localhost/$PROJECT-web" \
        "localhost/$PROJECT-arena" >/dev/null 2>&1 || true
    podman image prune --all --force >/dev/null 2>&1 || true
    find "$WHEELHOUSE" -name '*.whl' -delete
    rm -rf "$STANDIN_WHEELS" "$WHEELHOUSE/.stamp"
fi

# ---- 2. base image, wheelhouses, stand-ins ----------------------------------------------
phase "base image"
build_base_image
phase wheelhouses
stamp=$(cat requirements/trainer.txt requirements/web.txt | sha256sum | cut -c1-16)
if [[ $(cat "$WHEELHOUSE/.stamp" 2>/dev/null) != "$stamp" ]]; then
    log "downloading the pinned wheels into requirements/wheelhouse"
    # --no-deps: the lock is complete, and pip must not swap the CPU torch for CUDA wheels.
    "$VENV_PY" -m pip download -q --no-deps --only-binary=:all: \
        -r requirements/trainer.txt -r requirements/web.txt -d "$WHEELHOUSE" 2>&1 | grep -v '^WARNING: Location' || true
    echo "$stamp" >"$WHEELHOUSE/.stamp"
fi
if [[ ! -f $STANDIN_WHEELS/.done ]]; then
    log "downloading moto[server] wheels for the S3 stand-in"
    moto_version=$("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("moto"))')
    "$VENV_PY" -m pip download -q --only-binary=:all: "moto[server]==$moto_version" \
        -d "$STANDIN_WHEELS" 2>&1 | grep -v '^WARNING: Location' || true
    touch "$STANDIN_WHEELS/.done"
fi
phase "stand-in images"
log "building stand-in images (tests only)"
for standin in postgres prometheus grafana; do
    podman build -q --build-arg BASE_IMAGE="$BASE_IMAGE_LOCAL" \
        -f "tests/stack/standins/$standin.Dockerfile" \
        -t "localhost/cartridge-standin-$standin" tests/stack/standins >/dev/null
done
podman build -q --build-arg BASE_IMAGE="$BASE_IMAGE_LOCAL" -f tests/stack/standins/s3.Dockerfile \
    -t localhost/cartridge-standin-s3 "$STANDIN_WHEELS" >/dev/null

# ---- 3. a fresh checkout with a .env made the way `make up` makes it --------------------
phase checkout
log "copying the working tree to $WORK"
rm -rf "$WORK"
mkdir -p "$WORK/requirements/wheelhouse"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$WORK"
cp -al "$WHEELHOUSE"/*.whl "$WORK/requirements/wheelhouse/"
(cd "$WORK" && scripts/make-env.sh .env 2>/dev/null)
cat >>"$WORK/.env" <<ENV

# ---- e2e overrides (scripts/e2e.sh) ----
COMPOSE_PROJECT_NAME=$PROJECT
BASE_IMAGE=$BASE_IMAGE_LOCAL
PIP_OPTIONS=--no-index --find-links /requirements/wheelhouse
ACTOR_IMAGE=localhost/$PROJECT-actor:latest
TRAINER_IMAGE=localhost/$PROJECT-trainer:latest
WEB_IMAGE=localhost/$PROJECT-web:latest
ARENA_IMAGE=localhost/$PROJECT-arena:latest
POSTGRES_IMAGE=localhost/cartridge-standin-postgres
MINIO_IMAGE=localhost/cartridge-standin-s3
PROMETHEUS_IMAGE=localhost/cartridge-standin-prometheus
GRAFANA_IMAGE=localhost/cartridge-standin-grafana
# Small and fast: tic-tac-toe, few simulations, frequent checkpoints.
CARTRIDGE_COMMON_ENV_ID=tictactoe
CARTRIDGE_MCTS_NUM_SIMULATIONS=16
CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS=16
# Actors play int8 models, as Connect Four's do by default: the trainer quantizes in its
# container, the actors load model.int8.onnx from S3.
CARTRIDGE_SELFPLAY_TICTACTOE_PRECISION=int8
CARTRIDGE_ACTOR_CONCURRENT_GAMES=16
CARTRIDGE_TRAINING_BATCH_SIZE=64
CARTRIDGE_TRAINING_CHECKPOINT_INTERVAL=20
CARTRIDGE_TRAINING_MIN_POSITIONS=200
CARTRIDGE_TRAINING_WARMUP_STEPS=10
CARTRIDGE_TRAINING_DEVICE=cpu
ENV
cd "$WORK"

# ---- 4. images --------------------------------------------------------------------------
phase "Cartridge images"
log "building the Cartridge images"
timeout "$(remaining)" docker compose --profile k8s build >"$E2E_DIR/build.log" 2>&1 ||
    { tail -40 "$E2E_DIR/build.log"; exit 1; }

# ---- 5. the stack -----------------------------------------------------------------------
phase "stack and checks"
# Host ports: free ones, picked as late as possible (held together while picked, so they
# differ), unless E2E_*_PORT names them. tests/stack/e2e_checks.py reads them from .env.
read -r minio_port console_port prometheus_port grafana_port web_port < <("$VENV_PY" -c '
import socket
socks = [socket.socket() for _ in range(5)]
for sock in socks:
    sock.bind(("127.0.0.1", 0))
print(*(sock.getsockname()[1] for sock in socks))')
[[ -n ${web_port:-} ]] || { log "could not pick free host ports"; exit 1; }
cat >>.env <<ENV
MINIO_PORT=${E2E_MINIO_PORT:-$minio_port}
MINIO_CONSOLE_PORT=${E2E_MINIO_CONSOLE_PORT:-$console_port}
PROMETHEUS_PORT=${E2E_PROMETHEUS_PORT:-$prometheus_port}
GRAFANA_PORT=${E2E_GRAFANA_PORT:-$grafana_port}
WEB_PORT=${E2E_WEB_PORT:-$web_port}
ENV
pump_healthchecks &
pump_pid=$!
log "running: docker compose --profile k8s up --scale actor=$ACTORS"
# Attached, as a user would run it, in the background; its output goes to up.log.
docker compose --profile k8s up --scale actor=$ACTORS >"$E2E_DIR/up.log" 2>&1 &
up_pid=$!

# ---- 6. checks (they end with `docker compose down`) ------------------------------------
E2E_PROJECT_DIR=$WORK E2E_PROJECT=$PROJECT E2E_ACTORS=$ACTORS \
    timeout "$(remaining)" "$VENV_PY" "$ROOT/tests/stack/e2e_checks.py"
log "images: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "$PROJECT" | tr '\n' ' ')"
