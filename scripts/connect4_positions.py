"""Generate the Connect Four benchmark: positions with every move scored by a solver.

    pip install bitbully     # the solver; AGPL-3.0, needed only to run this script
    .venv/bin/python scripts/connect4_positions.py --per-stage 400 --seed 1 \\
        --out data/benchmarks/connect4_positions.jsonl

How positions are chosen (so the figures mean the same thing every time):
- a game is played from the empty board; at each ply the mover plays the
  solver's best move with probability 1/2 (ties broken at random), otherwise a
  uniformly random legal move: positions look like play between a strong and an
  erratic player, not like random noise or only book lines;
- it stops at a ply drawn uniformly from the stage: beginning 4-14, middle
  15-28, end 29-40 (Pons' levels by plies played);
- the position is kept if the game is not over, it was not kept before, and it
  is decisive: some legal move throws away the outcome (so a mistake is possible);
- each stage gets `--per-stage` positions; everything is seeded by `--seed`.

Every legal move is scored by BitBully with its opening book (exact: it agrees
with the Pons benchmark's solver labels). Output lines use the Pons benchmark
format (`../shared/connect4/moves.jsonl`): moves and columns 1-based, scores from
the side to move. The arena reads the file named by [arena] connect4_positions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

log = logging.getLogger("connect4_positions")

PROGRESS_EVERY = 10
STAGE_PLIES = {"beginning": (4, 14), "middle": (15, 28), "end": (29, 40)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-stage", type=int, default=400, help="positions per stage")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        from bitbully import BitBully, Board
    except ImportError:
        log.error("this script needs the BitBully solver: pip install bitbully (AGPL-3.0)")
        return 2
    solver = BitBully()
    rng = random.Random(args.seed)
    seen: set[str] = set()
    lines = []
    started = time.monotonic()
    for stage, (low, high) in STAGE_PLIES.items():
        kept = 0
        while kept < args.per_stage:
            moves = _play(solver, Board, rng, rng.randint(low, high))
            if moves is None or "".join(map(str, moves)) in seen:
                continue
            scores = solver.score_all_moves(Board.from_moves(moves))
            if len({(s > 0) - (s < 0) for s in scores.values()}) < 2:
                continue  # not decisive
            seen.add("".join(map(str, moves)))
            lines.append(_record(moves, scores, stage))
            kept += 1
            if kept % PROGRESS_EVERY == 0:  # early positions take the solver seconds each
                log.info("%s: %d of %d positions (%.0f s)", stage, kept, args.per_stage,
                         time.monotonic() - started)
        log.info("%s: %d positions", stage, kept)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(f".{args.out.name}.tmp")
    temporary.write_text("".join(json.dumps(line) + "\n" for line in lines))
    os.replace(temporary, args.out)  # never a half-written benchmark
    log.info("wrote %d positions to %s", len(lines), args.out)
    return 0


def _play(solver, board_class, rng: random.Random, plies: int) -> list[int] | None:
    """0-based columns of a game stopped after `plies` moves; None if it ended before."""
    board, moves = board_class(), []
    for _ in range(plies):
        if rng.random() < 0.5:
            scores = solver.score_all_moves(board)
            best = max(scores.values())
            column = rng.choice(sorted(c for c, s in scores.items() if s == best))
        else:
            column = rng.choice(board.legal_moves())
        board.play(column)
        moves.append(column)
        if board.is_game_over():
            return None
    return moves


def _record(moves: list[int], scores: dict[int, int], stage: str) -> dict:
    best = max(scores.values())
    return {
        "moves": "".join(str(c + 1) for c in moves),
        "to_move_score": best,
        "move_scores": {str(c + 1): scores.get(c) for c in range(7)},
        "optimal_moves": sorted(c + 1 for c, s in scores.items() if s == best),
        "outcome": "win" if best > 0 else "draw" if best == 0 else "loss",
        "ply": len(moves),
        "set": stage,
    }


if __name__ == "__main__":
    sys.exit(main())
