"""Bradley-Terry ratings: recovers known ratings, order-independent, bounded perfect records."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cartridge.arena.ratings import PairRecord, fit_ratings

TRUE = {"random": 0.0, "one-ply": 250.0, "v1": 500.0, "v2": 900.0}


def expected_score(elo_a: float, elo_b: float) -> float:
    """A's expected score against B under the Bradley-Terry model on the Elo scale."""
    return 1.0 / (1.0 + 10.0 ** ((elo_b - elo_a) / 400.0))


def synthetic_games(rng: np.random.Generator, games_per_pair: int,
                    draw_rate: float = 0.2) -> list[PairRecord]:
    """One record per game (wins, draws, losses drawn from the model)."""
    records = []
    for a, b in itertools.combinations(TRUE, 2):
        p = expected_score(TRUE[a], TRUE[b])
        for _ in range(games_per_pair):
            # Draws with probability d, wins with p - d/2: A's expected score stays p.
            d = draw_rate * 2 * min(p, 1 - p)
            u = rng.random()
            score = 0.5 if u < d else float(u < d + p - d / 2)
            records.append(PairRecord(a, b, 1, score))
    return records


def test_recovers_known_ratings_within_their_intervals() -> None:
    records = synthetic_games(np.random.default_rng(7), games_per_pair=2000)
    fit = fit_ratings(records, prior_draws=0)
    assert fit.ratings["random"].elo == 0 and fit.ratings["random"].interval == 0
    for player, elo in TRUE.items():
        rating = fit.ratings[player]
        # 1.5x the 95% half-width: fails by chance far less often than 1 in 1000.
        assert abs(rating.elo - elo) <= 1.5 * rating.interval + 1e-9, (player, rating)
        if player != "random":
            assert 5 < rating.interval < 60
            assert rating.games == 3 * 2000


def test_intervals_shrink_with_more_games() -> None:
    few = fit_ratings(synthetic_games(np.random.default_rng(1), 100))
    many = fit_ratings(synthetic_games(np.random.default_rng(1), 1600))
    assert many.ratings["v2"].interval < few.ratings["v2"].interval / 3


def test_the_fit_does_not_depend_on_the_order_of_games() -> None:
    records = synthetic_games(np.random.default_rng(3), games_per_pair=50)
    shuffled = list(records)
    np.random.default_rng(4).shuffle(shuffled)
    swapped = [PairRecord(r.player_b, r.player_a, r.games, r.games - r.score_a)
               for r in shuffled]  # the same games, recorded from the other side
    first, second, third = (fit_ratings(r) for r in (records, shuffled, swapped))
    for player in TRUE:
        assert first.ratings[player].elo == pytest.approx(second.ratings[player].elo, abs=1e-6)
        assert first.ratings[player].elo == pytest.approx(third.ratings[player].elo, abs=1e-6)


def test_a_player_that_won_everything_gets_a_finite_rating_above_the_rest() -> None:
    records = [PairRecord("random", "one-ply", 100, 30.0),
               PairRecord("perfect", "random", 100, 100.0),
               PairRecord("perfect", "one-ply", 100, 100.0)]
    fit = fit_ratings(records)
    perfect = fit.ratings["perfect"]
    assert np.isfinite(perfect.elo) and np.isfinite(perfect.interval)
    assert perfect.elo > fit.ratings["one-ply"].elo + 400
    # The bound comes from one virtual draw per pair: 1000 more real wins raise it.
    more = fit_ratings([*records, PairRecord("perfect", "random", 1000, 1000.0)])
    assert more.ratings["perfect"].elo > perfect.elo


def test_draws_count_as_half_a_win() -> None:
    all_draws = fit_ratings([PairRecord("random", "v1", 100, 50.0)], prior_draws=0)
    assert all_draws.ratings["v1"].elo == pytest.approx(0, abs=1e-6)
    three_quarters = fit_ratings([PairRecord("v1", "random", 100, 75.0)], prior_draws=0)
    assert three_quarters.ratings["v1"].elo == pytest.approx(400 * np.log10(3), abs=1e-6)


def test_players_without_a_path_to_the_anchor_are_unrated() -> None:
    fit = fit_ratings([PairRecord("random", "v1", 10, 5.0), PairRecord("v7", "v8", 10, 6.0)])
    assert set(fit.ratings) == {"random", "v1"}
    assert fit.unrated == ("v7", "v8")
    assert fit_ratings([]).ratings == {}


def test_impossible_records_are_refused() -> None:
    with pytest.raises(ValueError, match="impossible record"):
        fit_ratings([PairRecord("random", "v1", 10, 11.0)])
