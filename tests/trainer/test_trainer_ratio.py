"""The train/data ratio limiter waits for fresh positions and resumes when they come."""

from trainer.ratio import RatioLimiter


class GrowingReplay:
    """A position counter that grows only when the limiter sleeps, and records the sleeps."""

    def __init__(self, positions: int, growth: list[int]) -> None:
        self.positions = positions
        self.growth = growth  # positions added at each successive sleep
        self.reads = 0
        self.sleeps: list[float] = []

    def total_positions(self) -> int:
        self.reads += 1
        return self.positions

    def wait(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if not self.growth:
            return True  # nothing more will come: ask the limiter to stop
        self.positions += self.growth.pop(0)
        return False


def test_within_budget_does_not_wait_or_query_every_step() -> None:
    replay = GrowingReplay(positions=100, growth=[])
    limiter = RatioLimiter(4.0, replay.total_positions, replay.wait, wait_interval=2.0)
    for step in range(10):  # 10 batches of 32 = 320 samples <= 4 x 100
        assert limiter.acquire(step * 32, 32)
    assert replay.sleeps == []
    assert replay.reads == 1


def test_waits_while_the_replay_does_not_grow_then_resumes() -> None:
    replay = GrowingReplay(positions=100, growth=[0, 0, 50])
    limiter = RatioLimiter(2.0, replay.total_positions, replay.wait, wait_interval=2.0)
    # 200 samples trained: the next 32 exceed 2 x 100 until 50 more positions arrive.
    assert limiter.acquire(200, 32)
    assert replay.sleeps == [2.0, 2.0, 2.0]
    assert limiter.positions == 150


def test_stop_while_waiting_returns_false() -> None:
    replay = GrowingReplay(positions=10, growth=[])
    limiter = RatioLimiter(1.0, replay.total_positions, replay.wait, wait_interval=0.5)
    assert not limiter.acquire(10, 8)
    assert replay.sleeps == [0.5]


def test_time_waiting_at_the_gate_is_counted_also_while_it_lasts() -> None:
    import threading
    import time

    released = threading.Event()
    observed: list[float] = []
    positions = [10]
    limiter: RatioLimiter

    def wait(seconds: float) -> bool:
        time.sleep(0.05)  # the wait the limiter measures (real time, not a synchronisation)
        observed.append(limiter.waited_s())  # read mid-wait, as a metrics scrape would
        if len(observed) == 3:
            positions[0] = 1000
            released.set()
        return False

    limiter = RatioLimiter(1.0, lambda: positions[0], wait, wait_interval=0.05)
    assert limiter.waited_s() == 0.0
    assert limiter.acquire(0, 8)  # within budget: no wait
    assert limiter.waited_s() == 0.0
    assert limiter.acquire(10, 8)  # 18 > 10: waits three times
    assert released.is_set()
    assert observed[0] >= 0.05 and observed == sorted(observed)  # grows during the wait
    assert limiter.waited_s() >= 0.15
    total = limiter.waited_s()
    assert limiter.acquire(18, 8) and limiter.waited_s() == total  # no wait, no growth
