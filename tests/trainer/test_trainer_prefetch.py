import threading

import pytest

from trainer.prefetch import Prefetcher, PrefetchError


def test_batches_arrive_in_order_and_the_queue_is_bounded() -> None:
    produced: list[int] = []
    lock = threading.Lock()

    def fetch() -> int:
        with lock:
            produced.append(len(produced))
            return produced[-1]

    prefetcher = Prefetcher(fetch, depth=2)
    try:
        assert [prefetcher.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    finally:
        prefetcher.close()
    # At most depth queued + one being handed over beyond what was consumed.
    assert len(produced) <= 5 + 2 + 1


def test_a_failing_fetch_is_raised_to_the_consumer() -> None:
    def fetch() -> int:
        raise ValueError("store gone")

    with Prefetcher(fetch, depth=1) as prefetcher, pytest.raises(PrefetchError, match="store gone"):
        prefetcher.get()


def test_on_exit_runs_in_the_fetching_thread() -> None:
    threads: dict[str, int] = {}

    def fetch() -> int:
        threads["fetch"] = threading.get_ident()
        return 1

    def on_exit() -> None:
        threads["exit"] = threading.get_ident()

    with Prefetcher(fetch, depth=1, on_exit=on_exit) as prefetcher:
        prefetcher.get()
    assert threads["exit"] == threads["fetch"] != threading.get_ident()
