"""What every route shares, built once from validated settings at start."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cartridge.config.settings import Settings
from cartridge.journal import Journal, open_journal
from cartridge.modelstore.factory import open_model_store
from cartridge.threads import cpu_budget, resolve_inference
from web.metrics import WebMetrics
from web.models import ModelCatalog
from web.search_pool import SearchPool

log = logging.getLogger(__name__)


@dataclass
class WebResources:
    settings: Settings
    catalog: ModelCatalog
    searches: SearchPool
    metrics: WebMetrics
    journal: JournalConnection

    def close(self) -> None:
        self.searches.close()
        self.journal.close()


class JournalConnection:
    """The journal, opened on first use and again after it failed (a database that was
    down when the service started); JournalError when it cannot be opened now."""

    def __init__(self, opener: Callable[[], Journal]) -> None:
        self._opener = opener
        self._journal: Journal | None = None
        self._lock = threading.Lock()

    def get(self) -> Journal:
        with self._lock:
            if self._journal is None:
                self._journal = self._opener()
            return self._journal

    def reset(self) -> None:
        """After an error: the next get() opens a fresh connection."""
        with self._lock:
            journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()

    def close(self) -> None:
        self.reset()


def web_resources(settings: Settings) -> WebResources:
    web = settings.web
    inference = settings.inference
    if inference.spinning == "auto":
        inference = inference.model_copy(update={"spinning": "off"})  # threads share CPUs
    if inference.intra_op_threads == 0:
        # The CPUs are shared by the search threads: each gets its part for ONNX Runtime.
        budget = cpu_budget()
        share = max(1, budget.cpus // web.search_threads)
        log.info("ONNX Runtime intra-op pool: %d threads per search ([inference] "
                 "intra_op_threads = 0: %s, shared by [web] search_threads = %d)",
                 share, budget.reason, web.search_threads)
        inference = inference.model_copy(update={"intra_op_threads": share})
    else:
        inference = resolve_inference(inference)  # logs the key's choice
    log.info("%d search threads, %d may wait; models on %s", web.search_threads,
             web.max_queued, settings.storage.model_backend)
    return WebResources(
        settings=settings,
        catalog=ModelCatalog(lambda env_id: open_model_store(settings, env_id), inference,
                             web.model_cache),
        searches=SearchPool(web.search_threads, web.max_queued),
        metrics=WebMetrics(),
        journal=JournalConnection(lambda: open_journal(settings.storage,
                                                       settings.common.data_dir)),
    )
