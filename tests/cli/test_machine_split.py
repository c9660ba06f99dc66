"""How `cartridge run` divides the CPUs: threads at normal priority add up to the CPUs,
backfill actors at idle priority take the trainer's CPUs when it waits, and the keys win."""

from __future__ import annotations

import pytest

from cartridge.cli.machine_split import ActorPlan, split_machine


def normal_threads(split) -> int:
    return split.trainer_threads + sum(a.threads for a in split.actors if not a.backfill)


@pytest.mark.parametrize("cpus", [2, 3, 4, 8, 16, 64])
def test_auto_fills_every_cpu_without_oversubscribing_it(cpus: int) -> None:
    split = split_machine(cpus, actors=0, training_threads=0, inference_threads=0)
    assert normal_threads(split) == cpus
    assert split.trainer_threads == max(1, cpus // 4)
    backfill = [a for a in split.actors if a.backfill]
    assert sum(a.threads for a in backfill) == split.trainer_threads
    assert all(a.threads == 1 for a in split.actors)


def test_two_cpus_one_trainer_thread_one_actor_and_one_backfill() -> None:
    split = split_machine(2, actors=0, training_threads=0, inference_threads=0)
    assert split.trainer_threads == 1
    assert split.actors == (ActorPlan(1, backfill=False), ActorPlan(1, backfill=True))
    assert "1 backfill actors at idle priority" in split.describe()


def test_one_cpu_still_runs_an_actor() -> None:
    split = split_machine(1, actors=0, training_threads=0, inference_threads=0)
    assert split.trainer_threads == 1
    assert [a.backfill for a in split.actors] == [False, True]


def test_set_actors_share_what_the_trainer_leaves_and_get_no_backfill() -> None:
    split = split_machine(16, actors=3, training_threads=0, inference_threads=0)
    assert split.trainer_threads == 4
    assert split.actors == (ActorPlan(4, backfill=False),) * 3
    assert split_machine(2, actors=3, training_threads=0, inference_threads=0).actors == \
        (ActorPlan(1, backfill=False),) * 3


def test_thread_keys_win() -> None:
    split = split_machine(8, actors=0, training_threads=3, inference_threads=2)
    assert split.trainer_threads == 3
    assert [a.threads for a in split.actors] == [2, 2, 2]  # 5 CPUs left: 2 actors, 1 backfill
    assert [a.backfill for a in split.actors] == [False, False, True]


def test_bad_cpu_count_is_refused() -> None:
    with pytest.raises(ValueError, match="cpus must be >= 1"):
        split_machine(0, actors=0, training_threads=0, inference_threads=0)
