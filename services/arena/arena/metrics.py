"""Prometheus metrics of the arena (names as in cartridge.metrics: cartridge_arena_*).

    matches, games, promotions (counters); match duration (histogram);
    rating and 95% interval of the newest rated version and of `best`, and their
    versions (gauges, kind = latest | best); perfect-play benchmark mistake rate
    of the newest benchmarked version (kind = network | search).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_MATCH_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class ArenaMetrics:
    def __init__(self, game: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.game = game
        r = self.registry
        self.matches = Counter("cartridge_arena_matches", "Matches played and recorded",
                               ["game", "kind"], registry=r)
        self.games = Counter("cartridge_arena_games", "Games in recorded matches", ["game"],
                             registry=r).labels(game)
        self.promotions = Counter("cartridge_arena_promotions", "Versions promoted to best",
                                  ["game"], registry=r).labels(game)
        self.match_duration = Histogram("cartridge_arena_match_duration_seconds",
                                        "Seconds to play one match", ["game"],
                                        buckets=_MATCH_BUCKETS, registry=r).labels(game)
        self.rating = Gauge("cartridge_arena_rating_elo",
                            "Rating (Elo scale, random = 0) of the newest rated version "
                            "and of best", ["game", "kind"], registry=r)
        self.rating_interval = Gauge("cartridge_arena_rating_interval_elo",
                                     "Half-width of the rating's 95% interval",
                                     ["game", "kind"], registry=r)
        self.rated_version = Gauge("cartridge_arena_rated_version",
                                   "Version the rating gauges describe", ["game", "kind"],
                                   registry=r)
        self.mistakes = Gauge("cartridge_arena_benchmark_mistake_ratio",
                              "Share of benchmark positions where the newest benchmarked "
                              "version's move loses game-theoretic value", ["game", "kind"],
                              registry=r)
        self._benchmarked = 0

    def match_played(self, purpose: str, games: int, seconds: float) -> None:
        self.matches.labels(self.game, purpose).inc()
        self.games.inc(games)
        self.match_duration.observe(seconds)

    def rated(self, kind: str, version: int, elo: float, interval: float) -> None:
        """kind: latest (the newest rated version) | best."""
        self.rating.labels(self.game, kind).set(elo)
        self.rating_interval.labels(self.game, kind).set(interval)
        self.rated_version.labels(self.game, kind).set(version)

    def benchmarked(self, version: int, mode: str, value_kept_share: float) -> None:
        """Only the newest version benchmarked so far is shown."""
        if version < self._benchmarked:
            return
        self._benchmarked = version
        self.mistakes.labels(self.game, mode).set(1.0 - value_kept_share)


def arena_metric_names() -> set[str]:
    """Every sample name the arena exposes (`_total`, `_bucket`... included), with every
    series set once; dashboards and tests check their queries against it."""
    metrics = ArenaMetrics("game")
    metrics.match_played("rating", 1, 1.0)
    metrics.rated("latest", 1, 0.0, 0.0)
    metrics.benchmarked(1, "search", 1.0)
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}
