"""Connect Four benchmark: labelled positions load, mistakes and stages count right.

Labels here come from an exact negamax written for the tests (late positions, few
empty cells, tests/arena/helpers.py), independent of the solver the script uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartridge.arena.anchors import make_anchor
from cartridge.arena.connect4_benchmark import (
    LabelledPosition,
    choose_columns,
    connect4_benchmark,
    load_labelled_positions,
    tally_mistakes,
)
from cartridge.games import get_game
from tests.arena.helpers import late_positions

CONNECT4 = get_game("connect4")
PONS = Path(__file__).resolve().parents[3] / "shared" / "connect4" / "moves.jsonl"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> list[LabelledPosition]:
    path = tmp_path_factory.mktemp("c4") / "positions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in late_positions(40, seed=3)))
    return load_labelled_positions(path)


class PerfectByLabels:
    """Plays the best-labelled move: what a perfect player does, by construction."""

    def __init__(self, positions: list[LabelledPosition]) -> None:
        self.best = {CONNECT4.key(CONNECT4.apply_all(list(p.actions))):
                     max(range(7), key=lambda c, p=p: -2 if p.move_scores[c] is None
                         else p.move_scores[c]) for p in positions}

    def choose(self, states):
        return [self.best[CONNECT4.key(s)] for s in states]


def test_a_player_of_the_best_moves_makes_no_mistake(labelled) -> None:
    result = connect4_benchmark(PerfectByLabels(labelled), labelled)
    assert result["all"].positions == 40 and result["all"].mistakes == 0
    assert result["end"].positions == 40 and result["beginning"].positions == 0


def test_random_play_makes_mistakes_and_one_ply_fewer(labelled) -> None:
    random_result = connect4_benchmark(make_anchor("random", CONNECT4,
                                                   np.random.default_rng(0)), labelled)
    assert 0.1 < random_result["all"].mistake_rate < 0.9
    smarter = connect4_benchmark(make_anchor("alphabeta-d3", CONNECT4,
                                             np.random.default_rng(0)), labelled)
    assert smarter["all"].mistakes < random_result["all"].mistakes


def test_stages_and_mistakes_follow_the_rules() -> None:
    lost_or_drawn = (-3, 0, None, 0, -1, -2, -5)
    beginning = LabelledPosition(tuple([3] * 4), lost_or_drawn)
    assert beginning.stage == "beginning" and beginning.best_outcome == 0
    assert beginning.is_mistake(0) and not beginning.is_mistake(1)
    assert beginning.is_mistake(2)  # a full column is illegal: a mistake
    assert LabelledPosition(tuple(range(15)), lost_or_drawn).stage == "middle"
    assert LabelledPosition(tuple(range(29)), lost_or_drawn).stage == "end"
    lost = LabelledPosition((3,), (-1, -2, -3, -1, -2, -3, -1))
    assert not any(lost.is_mistake(c) for c in range(7)) and not lost.decisive
    assert beginning.decisive
    assert (lost.outcome, beginning.outcome) == ("lost", "drawn")
    assert LabelledPosition((3,), (-1, 2, 0, -1, -2, -3, -1)).outcome == "won"


def test_mistakes_tally_by_outcome_and_no_lost_position_holds_one(labelled) -> None:
    columns = choose_columns(make_anchor("random", CONNECT4, np.random.default_rng(1)),
                             labelled)
    outcomes = [p.outcome for p in labelled]
    by_outcome = tally_mistakes(labelled, columns, outcomes)
    assert set(by_outcome) == {*outcomes, "all"}
    assert sum(by_outcome[o].positions for o in set(outcomes)) == 40
    assert by_outcome["all"].mistakes == sum(by_outcome[o].mistakes for o in set(outcomes))
    assert by_outcome["all"].mistakes == tally_mistakes(labelled, columns)["all"].mistakes > 0
    if "lost" in by_outcome:
        assert by_outcome["lost"].mistakes == 0
    with pytest.raises(ValueError, match="39 groups for 40 positions"):
        tally_mistakes(labelled, columns, outcomes[:39])


def test_a_bad_line_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"moves": "44", "move_scores": {str(c): 0 for c in range(1, 8)}}
    path.write_text(json.dumps(good) + "\n" + json.dumps({"moves": "44"}) + "\n")
    with pytest.raises(ValueError, match=f"{path}, line 2"):
        load_labelled_positions(path)
    full = {"moves": "444444", "move_scores": {str(c): 0 for c in range(1, 8)}}
    path.write_text(json.dumps(full) + "\n")
    with pytest.raises(ValueError, match="line 1: move_scores do not match"):
        load_labelled_positions(path)


@pytest.mark.skipif(not PONS.exists(), reason="the shared Pons benchmark is not here")
def test_the_pons_benchmark_file_loads_with_its_stages() -> None:
    positions = load_labelled_positions(PONS)
    assert len(positions) == 5403
    stages = {stage: sum(p.stage == stage for p in positions)
              for stage in ("beginning", "middle", "end")}
    assert stages == {"beginning": 943 + 961 + 499, "middle": 2000, "end": 1000}
    # Each record's own outcome label (from its solver) agrees with the move scores'.
    labels = [json.loads(line)["outcome"] for line in PONS.read_text().splitlines()]
    names = {"win": "won", "draw": "drawn", "loss": "lost"}
    assert [p.outcome for p in positions] == [names[label] for label in labels]
