"""The int8 benchmark (bench/int8.py) refuses inputs of another game by name, before it
spends minutes measuring."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import int8
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import ModelMismatchError
from cartridge.network import build_network, export_onnx


def _exported(env_id: str, path: Path) -> Path:
    game = get_game(env_id)
    network = load_settings(int8.CONFIG, environ={}).network.for_game(env_id)
    path.write_bytes(export_onnx(build_network(game, network), game, network, step=0))
    return path


def test_a_model_of_another_game_is_named(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    model = _exported("connect4", tmp_path / "connect4.onnx")
    monkeypatch.setenv("CARTRIDGE_BENCH_MODEL", str(model))
    with pytest.raises(ModelMismatchError, match=f"CARTRIDGE_BENCH_MODEL={model}: .*othello"):
        int8.run_othello()


def test_a_model_of_the_game_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _exported("othello", tmp_path / "othello.onnx")
    monkeypatch.setenv("CARTRIDGE_BENCH_MODEL", str(model))
    assert int8._model(get_game("othello")) == (model.read_bytes(), str(model))


def test_labelled_positions_are_connect4s(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    positions = tmp_path / "positions.jsonl"
    monkeypatch.setenv("CARTRIDGE_BENCH_POSITIONS", str(positions))
    with pytest.raises(ValueError, match=f"CARTRIDGE_BENCH_POSITIONS={positions}: .*othello"):
        int8._agreement(get_game("othello"), b"", b"")
