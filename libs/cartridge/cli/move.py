"""`cartridge move`: the agent's choice, value and search policy for positions.

A position is a list of 0-based actions from the initial position. With
`--positions FILE.jsonl` every line `{"actions": [...]}` is answered in one
process (searched in batches) as one JSONL line on stdout; a malformed or
illegal line is answered with {"line": n, "error": "..."} and the rest still
run. Search here is evaluation: no root noise; PUCT's most visited move (the policy
is the visit distribution) or Gumbel's halving winner (the improved policy).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cartridge.config import SettingsError, load_settings
from cartridge.config.entry import apply_log_level
from cartridge.games import Game, IllegalActionError, get_game
from cartridge.inference import Evaluator, UniformEvaluator
from cartridge.mcts import SearchConfig
from cartridge.play import Answer, answer_positions

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="game id: tictactoe | connect4 | othello")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the uniform evaluator)")
    parser.add_argument("--sims", type=int, help="simulations per move (default: [mcts] in config)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--actions", help="comma-separated 0-based actions from the start,"
                       " e.g. 3,3,4 (empty string: the initial position)")
    where.add_argument("--positions", type=Path, help="JSONL file of {\"actions\": [...]} lines")
    parser.add_argument("--config", type=Path, help="config file (default: ./config.toml)")
    parser.add_argument("--seed", type=int, default=0, help="tie-breaking seed")


def run(args: argparse.Namespace) -> int:
    try:
        game = get_game(args.env)
        settings = load_settings(args.config, {"mcts": {"num_simulations": args.sims}})
        apply_log_level(settings)
        evaluator = _evaluator(args.model, game, settings.inference)
    except (SettingsError, ValueError, OSError) as err:
        log.error("%s", err)
        return 2
    config = SearchConfig.from_settings(settings.mcts)
    rng = np.random.default_rng(args.seed)
    if args.actions is not None:
        try:
            actions = _parse_actions(args.actions)
            if game.is_terminal(game.apply_all(actions)):
                raise ValueError("the game is already over in this position")
            answer = answer_positions(game, evaluator, config, [actions], rng)[0]
        except (IllegalActionError, ValueError) as err:
            log.error("position %r: %s", args.actions, err)
            return 2
        _print_human(game, answer)
        return 0
    return _answer_file(game, evaluator, config, args.positions, rng)


def _answer_file(game: Game, evaluator: Evaluator, config: SearchConfig, path: Path,
                 rng: np.random.Generator) -> int:
    try:
        text = path.read_text()
    except OSError as err:
        log.error("cannot read positions file %s: %s", path, err)
        return 2
    good: list[tuple[int, list[int]]] = []
    output: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        actions = None
        try:
            actions = _parse_line(line)
            state = game.apply_all(actions)
            if game.is_terminal(state):
                raise ValueError("the game is already over in this position")
            good.append((number, actions))
        except (ValueError, IllegalActionError) as err:
            output[number] = {"line": number, "actions": actions,
                              "error": f"{path}:{number}: {err}"}
    answers = answer_positions(game, evaluator, config, [a for _, a in good], rng)
    for (number, _), answer in zip(good, answers, strict=True):
        output[number] = answer.to_json()
    for number in sorted(output):
        sys.stdout.write(json.dumps(output[number]) + "\n")
    errors = sum(1 for item in output.values() if "error" in item)
    if errors:
        log.warning("%d of %d lines had errors (answered with an \"error\" field)",
                    errors, len(output))
    return 0


def _parse_line(line: str) -> list[int]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err}") from None
    if not isinstance(record, dict) or "actions" not in record:
        raise ValueError('expected an object with an "actions" list')
    actions = record["actions"]
    if not isinstance(actions, list) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in actions
    ):
        raise ValueError(f'"actions" must be a list of integers, got {actions!r}')
    return actions


def _parse_actions(text: str) -> list[int]:
    if not text.strip():
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--actions must be comma-separated integers, got {text!r}") from None


def _evaluator(model: Path | None, game: Game, inference: Any) -> Evaluator:
    if model is None:
        return UniformEvaluator()
    from cartridge.inference.onnx import evaluator_from_settings
    from cartridge.threads import resolve_inference

    return evaluator_from_settings(model.read_bytes(), game=game, model_version=0,
                                   inference=resolve_inference(inference))


def _print_human(game: Game, answer: Answer) -> None:
    state = game.apply_all(answer.actions)
    visits = ", ".join(f"{a}:{p:.3f}" for a, p in enumerate(answer.policy) if p > 0)
    sys.stdout.write(
        f"{game.render(state)}\n"
        f"action: {answer.action}\n"
        f"value: {answer.value:+.3f} (for the side to move)\n"
        f"visits: {visits}\n"
    )
