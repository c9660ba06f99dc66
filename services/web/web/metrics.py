"""Prometheus metrics of the web service (names `cartridge_web_<what>_<unit>`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cartridge_web_requests", "HTTP requests answered",
                                ["route", "status"], registry=r)
        self.search_seconds = Histogram("cartridge_web_search_seconds",
                                        "Seconds one play request spent searching",
                                        ["game"], buckets=_SEARCH_BUCKETS, registry=r)
        self.refused = Counter("cartridge_web_refused", "Play requests refused: pool full",
                               registry=r)
        self.searches_in_use = Gauge("cartridge_web_searches_in_use",
                                     "Searches running or queued now", registry=r)
