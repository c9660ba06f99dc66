"""meta.json: one entry of facts per start; a run of another game or network is refused;
the facts trainers put into model metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.config.settings import load_settings
from cartridge.runs import facts
from cartridge.runs.layout import RunDir
from tests.actor.helpers import REPO


def settings_for(data_dir: Path, **overrides):
    return load_settings(REPO / "config.toml", {"common": {"data_dir": data_dir}, **overrides},
                         environ={})


def test_start_facts_name_commit_command_seed_game_device_versions_host(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, training={"seed": 7, "device": "cpu"})
    entry = facts.start_facts(settings, tmp_path / "c.toml", ["cartridge", "run", "--x", "a b"])
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert entry["git_commit"] == head
    assert isinstance(entry["git_dirty"], bool)
    assert entry["command"] == "cartridge run --x 'a b'"
    assert entry["seed"] == {"training": 7, "actor": 0}
    assert entry["device"]["training"] == "cpu"
    assert entry["game"] == "tictactoe"
    assert entry["network"] == settings.network.tictactoe.model_dump()
    assert entry["python"] == ".".join(map(str, sys.version_info[:3]))
    assert entry["torch"] and entry["onnxruntime"]
    assert entry["config_path"] == str(tmp_path / "c.toml")
    assert entry["started_at"].endswith("+00:00")


def test_git_facts_are_null_outside_a_checkout(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the code lives decides the checkout; a folder outside any is the real case.
    monkeypatch.setattr(facts, "_CODE_DIR", tmp_path)
    assert facts.git_state() == (None, None)


def test_starts_are_appended_and_another_game_or_network_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    first = facts.start_facts(settings_for(tmp_path), tmp_path / "c.toml")
    facts.check_compatible(run, first)  # an empty directory takes any run
    facts.append_start(run, first)
    facts.append_start(run, {**first, "started_at": "later"})
    assert [s["started_at"] for s in facts.read_starts(run)] == [first["started_at"], "later"]
    assert facts.current_facts(run)["started_at"] == "later"

    connect4 = facts.start_facts(settings_for(tmp_path, common={"data_dir": tmp_path,
                                                                "env_id": "connect4"}), Path("c"))
    with pytest.raises(facts.RunDirMismatchError, match=r"game tictactoe .* game connect4"):
        facts.check_compatible(run, connect4)
    wider = facts.start_facts(settings_for(tmp_path, network={
        "tictactoe": {"kind": "mlp", "blocks": 2, "channels": 64}}), Path("c"))
    with pytest.raises(facts.RunDirMismatchError, match=r"'channels': 128.*'channels': 64") as err:
        facts.check_compatible(run, wider)
    # the way back to the run's own shape, e.g. after a default changed
    assert f"--config {run.config}" in str(err.value)


def test_a_run_started_before_value_head_goes_on_with_a_scalar_head(tmp_path: Path) -> None:
    """Runs recorded before [network] value_head existed were scalar-headed."""
    run = RunDir(tmp_path)
    first = facts.start_facts(settings_for(tmp_path), tmp_path / "c.toml")
    recorded = dict(first["network"])
    del recorded["value_head"]
    facts.append_start(run, {**first, "network": recorded})
    facts.check_compatible(run, first)
    wdl = facts.start_facts(settings_for(tmp_path, network={
        "tictactoe": {"kind": "mlp", "blocks": 2, "channels": 128, "value_head": "wdl"}}),
        Path("c"))
    with pytest.raises(facts.RunDirMismatchError, match=r"'value_head': 'wdl'"):
        facts.check_compatible(run, wdl)


def test_the_trainer_takes_the_run_facts_from_meta_json_else_its_own(tmp_path: Path) -> None:
    from trainer.wiring import run_facts

    settings = settings_for(tmp_path)
    own = run_facts(settings, tmp_path / "config.toml")  # no run recorded: a container
    assert own["config_path"] == str(tmp_path / "config.toml")
    assert own["settings"]["common"]["env_id"] == "tictactoe"
    recorded = {**own, "command": "cartridge run --run-dir x", "started_at": "then"}
    recorded.pop("settings")
    facts.append_start(RunDir(tmp_path), recorded)
    from_run = run_facts(settings, tmp_path / "other.toml")
    assert from_run["command"] == "cartridge run --run-dir x"
    assert from_run["started_at"] == "then"
    assert from_run["settings"] == own["settings"]


def test_facts_name_torch_without_importing_it(tmp_path: Path) -> None:
    # The supervisor never loads torch (hundreds of MB): versions come from package metadata.
    code = f"""
import sys
from pathlib import Path
import cartridge.cli.run, cartridge.cli.runs
from cartridge.config.settings import load_settings
from cartridge.runs.facts import start_facts
settings = load_settings(Path({str(REPO / "config.toml")!r}), environ={{}})
entry = start_facts(settings, Path("c.toml"))
print(entry["torch"], any(m == "torch" or m.startswith("torch.") for m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    import torch

    assert result.stdout.split() == [torch.__version__, "False"]
