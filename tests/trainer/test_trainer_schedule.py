import itertools
import math

import pytest

from trainer.schedule import learning_rate

KNOBS = {"peak": 0.002, "total_steps": 1000, "warmup_steps": 100, "min_ratio": 0.1}


def test_warmup_rises_linearly_to_the_peak() -> None:
    assert learning_rate(0, **KNOBS) == pytest.approx(0.002 / 100)
    assert learning_rate(49, **KNOBS) == pytest.approx(0.002 * 50 / 100)
    assert learning_rate(99, **KNOBS) == pytest.approx(0.002)


def test_cosine_falls_from_peak_to_floor_and_stays() -> None:
    assert learning_rate(100, **KNOBS) == pytest.approx(0.002)
    assert learning_rate(550, **KNOBS) == pytest.approx(0.002 * (0.1 + 0.9 * 0.5))
    assert learning_rate(1000, **KNOBS) == pytest.approx(0.0002)
    assert learning_rate(5000, **KNOBS) == pytest.approx(0.0002)
    rates = [learning_rate(s, **KNOBS) for s in range(100, 1001)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_no_schedule_keeps_the_peak_after_warmup() -> None:
    assert learning_rate(10, **KNOBS, cosine=False) == pytest.approx(0.002 * 11 / 100)
    assert learning_rate(900, **KNOBS, cosine=False) == 0.002


def test_no_warmup_starts_at_the_peak() -> None:
    assert learning_rate(0, **{**KNOBS, "warmup_steps": 0}) == pytest.approx(0.002)


def test_rate_depends_on_the_step_alone() -> None:
    """A restarted trainer asks for step k cold; an uninterrupted one got there step by step."""
    walked = [learning_rate(s, **KNOBS) for s in range(0, 700)]
    assert all(math.isclose(learning_rate(k, **KNOBS), walked[k]) for k in (0, 99, 100, 437, 699))
