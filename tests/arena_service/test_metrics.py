"""Arena metrics: names follow the convention; values match what the journal recorded."""

from __future__ import annotations

import re
from pathlib import Path

from cartridge.journal import open_journal
from tests.arena_service.helpers import arena_settings, make_arena, model_store, publish_versions

_NAME = re.compile(r"^cartridge_arena_[a-z0-9_]+$")


def test_metrics_follow_matches_ratings_benchmarks_and_promotions(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, gate="match", openings=0, num_simulations=32)
    publish_versions(model_store(settings), 1)
    arena = make_arena(settings)
    arena.run(until_idle=True)
    get = arena.metrics.registry.get_sample_value
    with open_journal(settings.storage, settings.common.data_dir) as journal:
        matches = journal.matches("tictactoe")
        ratings = {r.player: r for r in journal.ratings("tictactoe")}
        search = next(b for b in journal.benchmarks("tictactoe") if b.mode == "search")
        promotions = journal.promotions("tictactoe")
    game = {"game": "tictactoe"}
    assert get("cartridge_arena_matches_total", {**game, "kind": "gate"}) == 1
    assert get("cartridge_arena_matches_total", {**game, "kind": "rating"}) == len(matches) - 1
    assert get("cartridge_arena_games_total", game) == sum(len(m.games) for m in matches)
    assert get("cartridge_arena_promotions_total", game) == len(promotions) == 1
    for kind in ("latest", "best"):
        labels = {**game, "kind": kind}
        assert get("cartridge_arena_rated_version", labels) == 1
        assert get("cartridge_arena_rating_elo", labels) == ratings["v1"].elo
        assert get("cartridge_arena_rating_interval_elo", labels) == ratings["v1"].interval
    assert get("cartridge_arena_benchmark_mistake_ratio", {**game, "kind": "search"}) == \
        1 - search.score
    for family in arena.metrics.registry.collect():
        assert _NAME.match(family.name), family.name
        for sample in family.samples:
            assert set(sample.labels) <= {"game", "kind", "le"}, sample
