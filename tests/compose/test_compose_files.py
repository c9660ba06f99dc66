"""The compose files, read statically (no engine needed; `make e2e` runs them for real):
scalable actors, a restartable trainer, profiles, secrets only from .env, every variable
documented, GPU switches, and Prometheus scraping the ports the services serve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cartridge.config.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_SECRET_WORDS = ("PASSWORD", "SECRET", "ACCESS_KEY")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def services() -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml and the file it includes, merged as compose does."""
    main = load("docker-compose.yml")
    merged = dict(main["services"])
    for included in main.get("include", []):
        merged.update(load(included)["services"])
    return merged


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.partition("=")[::2] for item in env)


def documented_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z_][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_main_file_includes_the_k8s_file() -> None:
    assert load("docker-compose.yml")["include"] == ["docker-compose.k8s.yml"]


def test_actor_scales_no_fixed_names_or_host_ports() -> None:
    actor = services()["actor"]
    assert actor["profiles"] == ["k8s"]
    assert "container_name" not in actor
    assert "ports" not in actor, "host ports would collide between replicas"
    assert "hostname" not in actor, "replicas need distinct hostnames (their actor ids)"
    assert "CARTRIDGE_ACTOR_ACTOR_ID" not in environment(actor), \
        "one actor id for every replica would make rows collide"


def test_trainer_restarts_and_orchestrator_runs_the_whole_loop() -> None:
    every = services()
    assert every["trainer"]["profiles"] == ["k8s"]
    assert every["trainer"]["restart"] == "unless-stopped"
    assert every["orchestrator"]["profiles"] == ["orchestrator"]
    assert every["orchestrator"]["entrypoint"][-2:] == ["cartridge.cli.main", "run"]
    for name in ("postgres", "minio", "minio-init", "prometheus", "grafana"):
        assert "profiles" not in every[name], f"{name} must run in every profile"


def test_cartridge_services_wait_for_healthy_stores() -> None:
    every = services()
    assert every["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL", \
        "podman's Docker API splits exec-form healthchecks wrongly"
    for name in ("actor", "trainer", "orchestrator"):
        depends = every[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["minio-init"]["condition"] == "service_completed_successfully"


def test_stores_keep_their_data_in_volumes() -> None:
    every = services()
    assert any("/var/lib/postgresql/data" in v for v in every["postgres"]["volumes"])
    assert any(v.endswith(":/data") for v in every["minio"]["volumes"])
    assert any(":9001" in p for p in every["minio"]["ports"]), "MinIO console on 9001"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_variable_is_documented_in_env_example(path: Path) -> None:
    documented = documented_variables()
    used = {m.group(1) for m in _VARIABLE.finditer(path.read_text())}
    # Pass-through variables (no value in the file) come from .env or the shell too.
    for service in (yaml.safe_load(path.read_text()).get("services") or {}).values():
        used |= {k for k, v in environment(service).items() if v is None}
    assert used - documented == set(), f"{path.name}: undocumented in .env.example"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_secrets_come_only_from_env_and_are_required(path: Path) -> None:
    for name, service in (yaml.safe_load(path.read_text()).get("services") or {}).items():
        for key, value in environment(service).items():
            if any(word in key for word in _SECRET_WORDS):
                match = _VARIABLE.fullmatch(str(value))
                assert match, f"{name}.{key}: a literal secret in {path.name}"
                assert match.group(2) == ":?", \
                    f"{name}.{key}: a missing secret must be an error, not a default"


def test_env_example_holds_no_secret_and_make_env_fills_them(tmp_path: Path) -> None:
    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        key, _, value = line.partition("=")
        if any(word in key for word in _SECRET_WORDS) and not line.startswith("#"):
            assert value == "CHANGE_ME", f"{key} has a value in .env.example"
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "make-env.sh").write_bytes((ROOT / "scripts/make-env.sh").read_bytes())
    (tmp_path / "scripts" / "make-env.sh").chmod(0o755)
    (tmp_path / ".env.example").write_text(example)
    subprocess.run(["scripts/make-env.sh"], cwd=tmp_path, check=True, capture_output=True)
    made = (tmp_path / ".env").read_text()
    assert "CHANGE_ME" not in made
    secrets = [line.partition("=")[2] for line in made.splitlines()
               if line.partition("=")[0] in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD",
                                             "GRAFANA_ADMIN_PASSWORD")]
    assert len(secrets) == 3 and len(set(secrets)) == 3
    assert all(len(s) == 32 and s.isalnum() for s in secrets)
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0, ".env must not be world-readable"
    before = made
    subprocess.run(["scripts/make-env.sh"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / ".env").read_text() == before, "an existing .env is never replaced"


def test_gpu_switches_reserve_devices_for_the_trainer() -> None:
    nvidia = load("docker-compose.nvidia.yml")["services"]
    assert set(nvidia) == {"trainer"}
    devices = nvidia["trainer"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    rocm = load("docker-compose.rocm.yml")["services"]
    assert set(rocm) == {"trainer"}
    assert {"/dev/kfd", "/dev/dri"} <= set(rocm["trainer"]["devices"])
    # config.toml's Connect Four network (3x48) is for CPU trainers; a GPU trainer gets 5x64.
    for switch in (nvidia, rocm):
        env = environment(switch["trainer"])
        assert (env["CARTRIDGE_NETWORK_CONNECT4_BLOCKS"],
                env["CARTRIDGE_NETWORK_CONNECT4_CHANNELS"]) == ("5", "64")


# ---- Prometheus ---------------------------------------------------------------------------

# The setting each service serves its metrics on: (section, variable, key).
METRICS_SETTING = {"actor": ("actor", "CARTRIDGE_ACTOR_METRICS_PORT", "metrics_port"),
                   "trainer": ("training", "CARTRIDGE_TRAINING_METRICS_PORT", "metrics_port"),
                   "web": ("web", "CARTRIDGE_WEB_PORT", "port"),  # /metrics beside the page
                   "arena": ("arena", "CARTRIDGE_ARENA_METRICS_PORT", "metrics_port")}


def scrape_targets() -> list[tuple[str, str, int]]:
    """(job, compose service, port) for every target Prometheus is configured to scrape."""
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = []
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            targets += [(job["job_name"], name, int(sd["port"])) for name in sd["names"]]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.append((job["job_name"], host, int(port)))
    return targets


def served_port(service_name: str) -> int:
    """The port the service's code serves /metrics on: its settings, loaded the way the
    container loads them (config.toml < the compose environment)."""
    section, _, key = METRICS_SETTING[service_name]
    env = {k: str(v) for k, v in environment(services()[service_name]).items()
           if k.startswith("CARTRIDGE_") and v is not None and "${" not in str(v)}
    settings = load_settings(ROOT / "config.toml", environ=env)
    return getattr(getattr(settings, section), key)


def test_prometheus_scrapes_every_actor_replica_the_trainer_and_the_arena() -> None:
    targets = scrape_targets()
    assert {(job, service) for job, service, _ in targets} == {
        ("actor", "actor"), ("trainer", "trainer"), ("web", "web"), ("arena", "arena")}
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    actor_job = next(j for j in config["scrape_configs"] if j["job_name"] == "actor")
    assert actor_job["dns_sd_configs"][0]["type"] == "A", "DNS discovery finds every replica"


@pytest.mark.parametrize("job,service,port", scrape_targets())
def test_every_scraped_port_is_served(job: str, service: str, port: int) -> None:
    assert port != 0
    assert served_port(service) == port, \
        f"Prometheus scrapes {service}:{port}, the service serves {served_port(service)}"
    service_config = services()[service]
    assert str(port) in service_config.get("expose", []) or any(
        str(mapping).endswith(f":{port}") for mapping in service_config.get("ports", []))
    dockerfile = (ROOT / f"services/{service}/Dockerfile").read_text()
    variable = METRICS_SETTING[service][1]
    assert f"{variable}={port}" in dockerfile, "the image's default port"
    assert f"EXPOSE {port}" in dockerfile
    assert re.search(rf"HEALTHCHECK .*\n.*{variable}", dockerfile), "healthcheck probes it"


def test_the_served_port_check_can_fail() -> None:
    """served_port reads the compose environment: a wrong port there is noticed."""
    env = {"CARTRIDGE_ACTOR_METRICS_PORT": "9999"}
    assert load_settings(ROOT / "config.toml", environ=env).actor.metrics_port == 9999
