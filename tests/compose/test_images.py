"""The Dockerfiles and their inputs, statically (`make e2e` builds and runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["actor", "trainer", "web", "arena"]


def dockerfile(service: str) -> str:
    return (ROOT / "services" / service / "Dockerfile").read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_base_image_is_a_build_argument_defaulting_to_the_official_one(service: str) -> None:
    text = dockerfile(service)
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text
    assert all(line.split()[1] == "${BASE_IMAGE}" for line in text.splitlines()
               if line.startswith("FROM "))


@pytest.mark.parametrize("service", SERVICES)
def test_runs_as_non_root_with_a_shell_form_healthcheck(service: str) -> None:
    text = dockerfile(service)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*?\n\s+CMD (.*)$", text, re.M)
    assert healthcheck, "no HEALTHCHECK"
    assert not healthcheck.group(1).startswith("["), \
        "exec-form healthchecks are split wrongly by podman's Docker API"


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_is_baked_in(service: str) -> None:
    for line in dockerfile(service).splitlines():
        if line.startswith(("ENV", "ARG", "    ")):
            assert not re.search(r"(PASSWORD|SECRET|ACCESS_KEY)\s*=", line), line


def test_build_context_holds_only_what_the_images_need() -> None:
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert rules[0] == "*", "ignore everything, then allow what the images need"
    assert not any(".env" in rule for rule in rules if rule.startswith("!"))


def test_pins_are_exact_and_the_actor_and_web_have_no_torch() -> None:
    for name in ("actor", "trainer", "web"):
        pins = [line for line in (ROOT / "requirements" / f"{name}.txt").read_text().splitlines()
                if line and not line.startswith("#")]
        assert pins and all(re.fullmatch(r"[a-z0-9-]+==[0-9][^ ]*", pin) for pin in pins), name
    actor = (ROOT / "requirements/actor.txt").read_text()
    assert "\ntorch==" not in actor and "\nonnxruntime==" in actor
    assert "\ntorch==" in (ROOT / "requirements/trainer.txt").read_text()
    assert "requirements/actor.txt" in dockerfile("actor")
    for service in ("actor", "arena"):  # inference only
        assert "requirements/actor.txt" in dockerfile(service)
        assert "torch" not in dockerfile(service).replace("no torch", "")
    web = (ROOT / "requirements/web.txt").read_text()
    assert "\ntorch==" not in web and "\nfastapi==" in web and "\nuvicorn==" in web
    assert "requirements/web.txt" in dockerfile("web")
    assert "torch" not in dockerfile("web").replace("no torch", "")


def test_trainer_variants_choose_the_pytorch_index() -> None:
    text = dockerfile("trainer")
    assert "ARG TORCH_VARIANT=cpu" in text
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}" in text
