"""Connect Four perfect-play benchmark: mistake rates by stage on labelled positions.

Labelled positions are JSONL, one position a line, in the format of the Pons
benchmark as scored in `../shared/connect4/moves.jsonl` (and as written by
`scripts/connect4_positions.py`):

    {"moves": "4453", "move_scores": {"1": -2, ..., "7": null}, ...}

`moves` are 1-based columns from the empty board; `move_scores` give, per
column, the exact score for the side to move after playing it (null: full).
Only the sign matters here: win > 0, draw = 0, loss < 0.

A mistake is a move whose outcome class is worse than the best available (a
won position no longer won, a drawn one lost); an illegal move is a mistake.
In a lost position no move is a mistake. Stages by plies already played, as
Pons' levels: beginning <= 14, middle 15-28, end >= 29.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cartridge.games import get_game
from cartridge.players import Player

STAGES = ("beginning", "middle", "end")
# A position's perfect-play outcome for the side to move, by best_outcome (1, 0, -1).
OUTCOMES = ("won", "drawn", "lost")
COLUMNS = 7


@dataclass(frozen=True)
class LabelledPosition:
    actions: tuple[int, ...]  # 0-based columns from the empty board
    move_scores: tuple[int | None, ...]  # [7], None for a full column

    @property
    def stage(self) -> str:
        plies = len(self.actions)
        return "beginning" if plies <= 14 else "middle" if plies <= 28 else "end"

    @property
    def best_outcome(self) -> int:
        return max(_sign(s) for s in self.move_scores if s is not None)

    @property
    def outcome(self) -> str:
        """The side to move's outcome with perfect play from here: won, drawn or lost."""
        return OUTCOMES[1 - self.best_outcome]

    def is_mistake(self, column: int) -> bool:
        score = self.move_scores[column] if 0 <= column < COLUMNS else None
        return score is None or _sign(score) < self.best_outcome

    @property
    def decisive(self) -> bool:
        """Some legal move throws the outcome away."""
        return len({_sign(s) for s in self.move_scores if s is not None}) > 1


@dataclass(frozen=True)
class StageResult:
    positions: int
    mistakes: int

    @property
    def mistake_rate(self) -> float:
        return self.mistakes / self.positions if self.positions else 0.0


def load_labelled_positions(path: Path) -> list[LabelledPosition]:
    """Every position of the file; ValueError naming the file and line of a bad one."""
    game = get_game("connect4")
    positions = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                actions = tuple(int(c) - 1 for c in record["moves"])
                scores = tuple(record["move_scores"][str(c + 1)] for c in range(COLUMNS))
                state = game.apply_all(list(actions))
                if game.is_terminal(state) or all(s is None for s in scores):
                    raise ValueError("the game is over")
                legal = set(game.legal_actions(state))
                if {c for c, s in enumerate(scores) if s is not None} != legal:
                    raise ValueError("move_scores do not match the legal columns")
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}, line {number}: {err}") from None
            positions.append(LabelledPosition(actions, scores))
    return positions


def connect4_benchmark(agent: Player, positions: Sequence[LabelledPosition],
                       chunk: int = 512, groups: Sequence[str] | None = None,
                       ) -> dict[str, StageResult]:
    """Mistakes of `agent` per group and over "all" positions; groups are the stages
    unless given (one name per position, e.g. the Pons set it comes from)."""
    _check_groups(groups, positions)
    return tally_mistakes(positions, choose_columns(agent, positions, chunk), groups)


def choose_columns(agent: Player, positions: Sequence[LabelledPosition],
                   chunk: int = 512) -> list[int]:
    """`agent`'s move in each position, asked `chunk` positions at a time."""
    game = get_game("connect4")
    columns: list[int] = []
    for start in range(0, len(positions), chunk):
        states = [game.apply_all(list(p.actions)) for p in positions[start:start + chunk]]
        columns += [int(column) for column in agent.choose(states)]
    return columns


def tally_mistakes(positions: Sequence[LabelledPosition], columns: Sequence[int],
                   groups: Sequence[str] | None = None) -> dict[str, StageResult]:
    """Mistakes of the moves `columns` per group and over "all" positions; groups are
    the stages unless given (one name per position)."""
    _check_groups(groups, positions)
    names = list(groups) if groups is not None else [p.stage for p in positions]
    order = STAGES if groups is None else tuple(dict.fromkeys(names))
    counts = {group: [0, 0] for group in (*order, "all")}
    for name, position, column in zip(names, positions, columns, strict=True):
        for group in (name, "all"):
            counts[group][0] += 1
            counts[group][1] += position.is_mistake(column)
    return {group: StageResult(n, m) for group, (n, m) in counts.items()}


def _check_groups(groups: Sequence[str] | None, positions: Sequence[LabelledPosition]) -> None:
    if groups is not None and len(groups) != len(positions):
        raise ValueError(f"{len(groups)} groups for {len(positions)} positions")


def _sign(score: int) -> int:
    return (score > 0) - (score < 0)
