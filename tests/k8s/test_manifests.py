"""The Kubernetes manifests: every overlay renders with `kubectl kustomize`, validates
against the Kubernetes schemas, and follows the deployment rules (DESIGN.md):

- every long-running container has requests and limits, readiness and liveness probes
- pods run as non-root, containers drop privileges and have a read-only root filesystem
- the trainer Deployment uses the Recreate strategy (never two trainers at once)
- actor ids come from the pod name (downward API)
- secrets are only referenced by name (secretKeyRef); no Secret object is rendered
- overlays only patch the base (no workload of the base is redefined in an overlay)
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.31.0"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
CRD_GROUPS = ("keda.sh/",)  # custom resources kubernetes-validate has no schema for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {path}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def workloads(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def named(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: found {len(matches)}"
    return matches[0]


def test_the_overlays_are_dev_prod_and_rocm() -> None:
    assert OVERLAYS == ["dev", "prod", "rocm"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    for obj in render(str(K8S / "overlays" / overlay)):
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue  # no schema offline; tested field by field (test_actors_scale_on_...)
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {err.message} "
                        f"at {'.'.join(map(str, err.path))}")


def test_the_validator_rejects_a_broken_object() -> None:
    """The schema check above can fail: an unknown field in a Deployment is caught."""
    import kubernetes_validate

    deployment = dict(named(render(str(K8S / "overlays" / "dev")), "Deployment", "actor"))
    deployment["spec"] = {**deployment["spec"], "replicaz": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_limits_and_probes(overlay: str) -> None:
    for workload in workloads(render(str(K8S / "overlays" / overlay))):
        for container in pod_spec(workload)["containers"]:
            where = f"{overlay}: {workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: {kind}"
            if workload["kind"] != "Job":  # a run-to-completion job has nothing to probe
                assert "readinessProbe" in container, f"{where}: readinessProbe"
                assert "livenessProbe" in container, f"{where}: livenessProbe"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_with_a_read_only_root(overlay: str) -> None:
    for workload in workloads(render(str(K8S / "overlays" / overlay))):
        spec = pod_spec(workload)
        assert spec.get("securityContext", {}).get("runAsNonRoot") is True, \
            f"{overlay}: {workload['metadata']['name']} runAsNonRoot"
        for container in spec["containers"]:
            where = f"{overlay}: {workload['metadata']['name']}/{container['name']}"
            context = container.get("securityContext", {})
            assert context.get("readOnlyRootFilesystem") is True, f"{where}: read-only root"
            assert context.get("allowPrivilegeEscalation") is False, f"{where}: escalation"
            assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: caps"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_trainer_and_arena_are_recreated_not_rolled(overlay: str) -> None:
    for name in ("trainer", "arena"):
        single = named(render(str(K8S / "overlays" / overlay)), "Deployment", name)
        assert single["spec"]["strategy"] == {"type": "Recreate"}, name
        assert single["spec"]["replicas"] == 1, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_actor_id_is_the_pod_name(overlay: str) -> None:
    actor = named(render(str(K8S / "overlays" / overlay)), "Deployment", "actor")
    env = {e["name"]: e for e in pod_spec(actor)["containers"][0]["env"]}
    assert env["CARTRIDGE_ACTOR_ACTOR_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_rendered(overlay: str) -> None:
    objects = render(str(K8S / "overlays" / overlay))
    assert not [o for o in objects if o["kind"] == "Secret"], "a Secret would be in git"
    secret_words = ("PASSWORD", "SECRET", "ACCESS_KEY")
    referenced = set()
    for workload in workloads(objects):
        for container in pod_spec(workload)["containers"]:
            for env in container.get("env", []):
                if any(word in env["name"] for word in secret_words):
                    assert "value" not in env, f"{env['name']} has a plaintext value"
                    ref = env["valueFrom"]["secretKeyRef"]
                    referenced.add(ref["name"])
    assert referenced == {"cartridge-secrets"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_are_annotated_for_prometheus(overlay: str) -> None:
    objects = render(str(K8S / "overlays" / overlay))
    for name, setting in (("actor", "CARTRIDGE_ACTOR_METRICS_PORT"),
                          ("trainer", "CARTRIDGE_TRAINING_METRICS_PORT"),
                          ("arena", "CARTRIDGE_ARENA_METRICS_PORT")):
        template = named(objects, "Deployment", name)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        container = template["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == env[setting], \
            f"{name}: Prometheus would scrape a port the service does not serve"
        assert int(env[setting]) in {p["containerPort"] for p in container["ports"]}


def test_gpu_overlays_reserve_their_devices() -> None:
    def trainer_limits(overlay: str) -> dict[str, Any]:
        trainer = named(render(str(K8S / "overlays" / overlay)), "Deployment", "trainer")
        return pod_spec(trainer)["containers"][0]["resources"]["limits"]

    assert trainer_limits("prod")["nvidia.com/gpu"] == "1"
    assert trainer_limits("rocm")["amd.com/gpu"] == "1"
    assert not {"nvidia.com/gpu", "amd.com/gpu"} & set(trainer_limits("dev"))
    dev_actor = named(render(str(K8S / "overlays" / "dev")), "Deployment", "actor")
    assert dev_actor["spec"]["replicas"] == 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gpu_trainers_train_the_larger_connect4_network(overlay: str) -> None:
    """config.toml's Connect Four network (3x48) is for CPU trainers; GPU overlays set 5x64."""
    trainer = named(render(str(K8S / "overlays" / overlay)), "Deployment", "trainer")
    env = {e["name"]: e.get("value") for e in pod_spec(trainer)["containers"][0].get("env", [])}
    shape = (env.get("CARTRIDGE_NETWORK_CONNECT4_BLOCKS"),
             env.get("CARTRIDGE_NETWORK_CONNECT4_CHANNELS"))
    assert shape == (("5", "64") if overlay in {"prod", "rocm"} else (None, None))


def test_base_has_one_workload_per_file_and_the_stores() -> None:
    objects = render(str(K8S / "base"))
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Namespace", "cartridge"), ("StatefulSet", "postgres"), ("StatefulSet", "minio"),
            ("Job", "bucket-init"), ("Deployment", "actor"), ("Deployment", "trainer"),
            ("Deployment", "arena"),
            ("Service", "postgres"), ("Service", "minio")} <= kinds
    assert any(k == "ConfigMap" and n.startswith("cartridge-config") for k, n in kinds)
    for path in (K8S / "base").glob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert sum(d.get("kind") in WORKLOAD_KINDS for d in docs) <= 1, path.name
    for statefulset in ("postgres", "minio"):
        assert named(objects, "StatefulSet", statefulset)["spec"]["volumeClaimTemplates"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_only_patch(overlay: str) -> None:
    """An overlay may add objects the base does not have (the prod autoscaler), but every
    workload it touches must come from the base, through a patch."""
    folder = K8S / "overlays" / overlay
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert "../../base" in kustomization["resources"]
    base = {(o["kind"], o["metadata"]["name"]) for o in render(str(K8S / "base"))}
    for resource in kustomization["resources"]:
        if resource == "../../base":
            continue
        for doc in yaml.safe_load_all((folder / resource).read_text()):
            assert doc["kind"] not in WORKLOAD_KINDS, f"{resource} defines a workload"
            assert (doc["kind"], doc["metadata"]["name"]) not in base, f"{resource} redefines"


def test_configmap_is_generated_from_config_toml() -> None:
    copy = K8S / "base" / "config.toml"
    assert copy.read_text() == (ROOT / "config.toml").read_text(), \
        "k8s/base/config.toml is out of date: cp config.toml k8s/base/config.toml"
    config = next(o for o in render(str(K8S / "base")) if o["kind"] == "ConfigMap")
    assert config["data"]["config.toml"] == (ROOT / "config.toml").read_text()


def test_actors_scale_on_the_trainers_demand_for_data_not_cpu() -> None:
    prod = render(str(K8S / "overlays" / "prod"))
    assert not [o for o in prod if o["kind"] == "HorizontalPodAutoscaler"]  # KEDA owns it
    scaler = named(prod, "ScaledObject", "actor")
    assert scaler["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaler["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "actor"}
    named(prod, "Deployment", spec["scaleTargetRef"]["name"])  # the target exists
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert spec["fallback"]["replicas"] >= spec["minReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    assert float(trigger["metadata"]["threshold"]) == 1.0
    query = trigger["metadata"]["query"]
    # The series the query reads are the ones the services export (names checked in code).
    metrics_source = (ROOT / "libs" / "cartridge" / "metrics.py").read_text()
    for series in ("cartridge_trainer_ratio_wait_seconds", "cartridge_actor_model_version"):
        assert series in query and f'"{series}"' in metrics_source
    assert "cpu" not in str(spec).lower()


def test_cartridge_containers_get_cpu_limits_and_no_thread_settings() -> None:
    """Their thread pools follow the CPU limit (the cgroup quota, read at start), so no
    manifest sets a thread count by hand."""
    for overlay in OVERLAYS:
        objects = render(str(K8S / "overlays" / overlay))
        for name in ("actor", "trainer"):
            (container,) = pod_spec(named(objects, "Deployment", name))["containers"]
            assert float(str(container["resources"]["limits"]["cpu"]).rstrip("m")) > 0
            names = {e["name"] for e in container.get("env", [])}
            assert not {n for n in names if n.endswith("_THREADS") or n.startswith("OMP_")}


def test_web_runs_two_stateless_replicas_behind_a_service() -> None:
    for overlay in OVERLAYS:
        objects = render(str(K8S / "overlays" / overlay))
        web = named(objects, "Deployment", "web")
        assert web["spec"]["replicas"] == 2
        (container,) = pod_spec(web)["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        service = named(objects, "Service", "web")
        assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
        annotations = web["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_every_cartridge_service_shares_the_postgres_journal() -> None:
    """The web dashboard reads what the trainer, actors and arena write: one journal."""
    objects = render(str(K8S / "overlays" / "dev"))
    for name in ("actor", "trainer", "arena", "web"):
        (container,) = pod_spec(named(objects, "Deployment", name))["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["CARTRIDGE_STORAGE_JOURNAL_BACKEND"]["value"] == "postgres", name
        assert "secretKeyRef" in env["CARTRIDGE_STORAGE_POSTGRES_PASSWORD"]["valueFrom"], name
