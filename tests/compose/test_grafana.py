"""Grafana cannot run on the project's machines (not packaged, no registry), so its
provisioning and the Cartridge dashboard are validated here, statically: the datasource
points at the compose Prometheus, the dashboard provider at the mounted folder, and
every panel's query names only metrics the services export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from arena.metrics import arena_metric_names
from cartridge.metrics import exported_metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy/grafana"
_METRIC = re.compile(r"\b(cartridge_[a-z0-9_]+|up)\b")
# What the dashboard must show (issue 6), as the metric each needs.
REQUIRED = {
    "positions/s per actor and total": "cartridge_actor_positions_total",
    "training losses": "cartridge_trainer_loss",
    "step rate": "cartridge_trainer_steps_total",
    "replay size": "cartridge_replay_positions",
    "ingest rate": "cartridge_replay_positions_added_total",
    "model version per actor": "cartridge_actor_model_version",
    "reload latency": "cartridge_actor_model_reload_latency_seconds_bucket",
    "the trainer's demand for self-play (issue 10)": "cartridge_trainer_ratio_wait_seconds_total",
    # issue 11
    "rating of latest and best": "cartridge_arena_rating_elo",
    "rating interval": "cartridge_arena_rating_interval_elo",
    "benchmark mistake rates": "cartridge_arena_benchmark_mistake_ratio",
    "matches played": "cartridge_arena_matches_total",
    "promotions": "cartridge_arena_promotions_total",
}


def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards/cartridge.json").read_text())


def queries() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def test_datasource_is_the_compose_prometheus() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml")
                                  .read_text())
    (source,) = provisioning["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    uids = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    assert uids == {source["uid"]}


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/cartridge.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_every_query_names_exported_metrics() -> None:
    exported = exported_metric_names() | arena_metric_names() | {"up"}
    for expr in queries():
        names = set(_METRIC.findall(expr))
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} names {names - exported}, which nothing exports"


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    used = {name for expr in queries() for name in _METRIC.findall(expr)}
    missing = {what: name for what, name in REQUIRED.items() if name not in used}
    assert not missing
    per_actor = [e for e in queries() if "cartridge_actor_positions_total" in e]
    assert any("by (instance)" in e for e in per_actor), "positions/s per actor"
    assert any(e.startswith("sum(rate(") for e in per_actor), "positions/s in total"


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
