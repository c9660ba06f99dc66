"""Ratings: Bradley-Terry maximum likelihood on the Elo scale, over all recorded games.

Model: P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)); a draw counts as half a
win and half a loss. The fit maximises the likelihood of every game at once, so
it does not depend on the order games were played (unlike an online Elo
update). One player (the anchor, `random`) is fixed at 0.

Intervals: the 95% interval is +-1.96 standard errors, the standard errors from
the inverse of the observed Fisher information (the Hessian of the negative
log-likelihood) at the optimum. They are relative to the anchor.

A player that won (or lost) every game has no finite maximum. The fit adds
`prior_draws` virtual drawn games to every pair of players that met (by
default one), which bounds such a rating (145 wins of 145 real+virtual against
random rate about +985) and barely moves players with many games.

Players not connected to the anchor through games (nobody they played has a
path of games to it) cannot be placed on its scale: they are left out of the
result, and `unrated` lists them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

ELO_PER_NATURAL_UNIT = 400.0 / math.log(10.0)
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class PairRecord:
    """Games between two players: `games` played, `score_a` = A's wins + draws / 2."""

    player_a: str
    player_b: str
    games: int
    score_a: float


@dataclass(frozen=True)
class Rating:
    player: str
    elo: float
    interval: float  # half-width of the 95% interval, Elo
    games: int  # real games played (virtual draws not counted)


@dataclass(frozen=True)
class RatingFit:
    ratings: dict[str, Rating]  # connected to the anchor
    unrated: tuple[str, ...]  # sorted; no path of games to the anchor


def fit_ratings(records: Iterable[PairRecord], *, anchor: str = "random",
                prior_draws: float = 1.0, tolerance: float = 1e-9,
                max_iterations: int = 100) -> RatingFit:
    """Maximum-likelihood Bradley-Terry ratings with the anchor at 0."""
    if prior_draws < 0:
        raise ValueError(f"prior_draws must be >= 0, got {prior_draws}")
    games, score = _aggregate(records)
    played: dict[str, int] = defaultdict(int)
    for (a, b), n in games.items():
        played[a] += n
        played[b] += n
    connected = _component(anchor, games)
    unrated = tuple(sorted(set(played) - connected))
    if anchor not in played:
        return RatingFit({}, unrated)
    players = [anchor, *sorted(connected - {anchor})]  # the anchor is index 0, fixed
    index = {p: i for i, p in enumerate(players)}
    pairs = [(index[a], index[b], n + prior_draws, score[a, b] + prior_draws / 2)
             for (a, b), n in games.items() if a in index]
    i_idx = np.array([p[0] for p in pairs], dtype=np.int64)
    j_idx = np.array([p[1] for p in pairs], dtype=np.int64)
    n_ij = np.array([p[2] for p in pairs])
    s_ij = np.array([p[3] for p in pairs])
    r = np.zeros(len(players))
    for _ in range(max_iterations):
        gradient, information = _derivatives(r, i_idx, j_idx, n_ij, s_ij)
        step = np.linalg.solve(information[1:, 1:], gradient[1:])
        # Damped: Newton can overshoot from a far start; 3 natural units = ~520 Elo.
        step *= min(1.0, 3.0 / max(np.abs(step).max(), 1e-300))
        r[1:] += step
        if np.abs(step).max() < tolerance:
            break
    _, information = _derivatives(r, i_idx, j_idx, n_ij, s_ij)
    covariance = np.linalg.inv(information[1:, 1:])
    errors = np.concatenate([[0.0], np.sqrt(np.clip(np.diag(covariance), 0.0, None))])
    ratings = {
        p: Rating(p, float(r[i] * ELO_PER_NATURAL_UNIT),
                  float(Z_95 * errors[i] * ELO_PER_NATURAL_UNIT), played[p])
        for p, i in index.items()
    }
    return RatingFit(ratings, unrated)


def _aggregate(records: Iterable[PairRecord]) -> tuple[dict, dict]:
    """Games and A's score per unordered pair (names sorted); self-play pairs dropped."""
    games: dict[tuple[str, str], int] = defaultdict(int)
    score: dict[tuple[str, str], float] = defaultdict(float)
    for record in records:
        if record.games < 0 or not 0 <= record.score_a <= record.games:
            raise ValueError(f"impossible record {record}")
        a, b, s = record.player_a, record.player_b, record.score_a
        if a == b or record.games == 0:
            continue
        if b < a:
            a, b, s = b, a, record.games - s
        games[a, b] += record.games
        score[a, b] += s
    return games, score


def _component(start: str, games: dict[tuple[str, str], int]) -> set[str]:
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in games:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        for other in neighbours[node] - seen:
            seen.add(other)
            frontier.append(other)
    return seen


def _derivatives(r: np.ndarray, i: np.ndarray, j: np.ndarray, n: np.ndarray,
                 s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the log-likelihood and the observed information (natural units)."""
    p = 1.0 / (1.0 + np.exp(r[j] - r[i]))  # P(i beats j)
    residual = s - n * p
    gradient = np.zeros(len(r))
    np.add.at(gradient, i, residual)
    np.add.at(gradient, j, -residual)
    weight = n * p * (1.0 - p)
    information = np.zeros((len(r), len(r)))
    np.add.at(information, (i, i), weight)
    np.add.at(information, (j, j), weight)
    np.add.at(information, (i, j), -weight)
    np.add.at(information, (j, i), -weight)
    return gradient, information
