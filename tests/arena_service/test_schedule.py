"""What the arena plays next: newest first, opponents that keep the ladder connected."""

from __future__ import annotations

from arena.schedule import match_key, parse_model_name, rating_opponents, work_order

ANCHORS = ("random", "one-ply")


def test_work_goes_newest_first_and_the_oldest_last() -> None:
    assert work_order([3, 1, 7, 5, 7]) == [7, 5, 3, 1]


def test_opponents_are_anchors_best_previous_and_spread_history() -> None:
    versions = list(range(1, 21))
    opponents = rating_opponents(20, versions, best=12, anchors=ANCHORS, history=3)
    assert opponents[:2] == list(ANCHORS)
    models = opponents[2:]
    assert models[:2] == ["v12", "v19"]  # best, then the previous version
    assert models[2:] == ["v1", "v9", "v18"]  # spread over the rest, oldest to newest
    assert "v20" not in opponents


def test_the_first_version_meets_only_anchors_and_history_is_capped() -> None:
    assert rating_opponents(1, [1], best=None, anchors=ANCHORS, history=3) == list(ANCHORS)
    assert rating_opponents(3, [1, 2, 3], best=None, anchors=ANCHORS, history=5) == [
        *ANCHORS, "v2", "v1"]
    assert rating_opponents(3, [1, 2, 3], best=3, anchors=ANCHORS, history=0) == [
        *ANCHORS, "v2"]  # a best newer than the version is not an earlier version


def test_model_names_and_match_keys() -> None:
    assert parse_model_name("v42") == 42
    assert parse_model_name("random") is None and parse_model_name("v") is None
    assert match_key("rating", "v3", "random", 64, 72) == "rating|v3|random|s64|o72"
