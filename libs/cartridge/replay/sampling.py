"""Uniform sampling by sequence number, shared by the backends, and the trainer's entry point.

Positions of one env carry increasing sequence numbers, so "uniform over the newest
`window`" is: draw random numbers in [hi - window + 1, hi], fetch those rows by
primary key in one round trip, and re-draw the few that hit a gap (a trimmed,
rolled-back or still uncommitted number). Re-drawing only the misses is rejection
sampling, so the result stays uniform over the positions that exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cartridge.games import augment, get_game
from cartridge.replay.base import EmptyReplayError, ReplayStore, SampledBatch

# Rows fetched for a set of sequence numbers: {seq: row}.
Fetch = Callable[[np.ndarray], dict[int, Any]]
MAX_ROUNDS = 8


def sample_rows(
    fetch: Fetch,
    existing: Callable[[int, int], np.ndarray],
    lo: int,
    hi: int,
    batch_size: int,
    rng: np.random.Generator,
    env_id: str,
) -> list[Any]:
    """`batch_size` rows drawn uniformly (with replacement) from sequence numbers [lo, hi].

    `existing(lo, hi)` lists the numbers present; it is the fallback for a window that
    is mostly gaps, called only after MAX_ROUNDS rounds of re-drawing.
    """
    if hi < lo:
        raise EmptyReplayError(f"no positions stored for {env_id!r}")
    seqs = rng.integers(lo, hi + 1, size=batch_size)
    rows: dict[int, Any] = {}
    missing = np.ones(batch_size, dtype=bool)
    for _ in range(MAX_ROUNDS):
        wanted = np.unique(seqs[missing])
        rows.update(fetch(wanted))
        missing = ~np.isin(seqs, np.fromiter(rows, dtype=np.int64, count=len(rows)))
        if not missing.any():
            return [rows[s] for s in seqs.tolist()]
        seqs[missing] = rng.integers(lo, hi + 1, size=int(missing.sum()))
    present = existing(lo, hi)
    if len(present) == 0:
        raise EmptyReplayError(f"no positions stored for {env_id!r} in seq [{lo}, {hi}]")
    seqs[missing] = rng.choice(present, size=int(missing.sum()))
    rows.update(fetch(np.unique(seqs[missing])))
    # A row deleted by a concurrent trim between the two calls: take any fetched one.
    spare = next(iter(rows.values()))
    return [rows.get(s, spare) for s in seqs.tolist()]


def sample_augmented(
    store: ReplayStore,
    env_id: str,
    batch_size: int,
    window: int,
    rng: np.random.Generator,
) -> SampledBatch:
    """A uniform batch from the newest `window` positions with one random symmetry each."""
    batch = store.sample(env_id, batch_size, window, rng)
    obs, policies, masks = augment(
        batch.observations, batch.policies, batch.legal_masks, get_game(env_id).symmetries(), rng
    )
    return SampledBatch(observations=obs, legal_masks=masks, policies=policies,
                        values=batch.values)
