"""ModelCatalog: which model plays, per game.

"latest" and "best" are read from the store's pointers on every request (a small read),
so a new model plays as soon as it is published or promoted; a version number must exist.
Before any model exists, "latest" plays with the uniform evaluator (search alone) and
says so. Loaded evaluators are kept in a small LRU cache ([web] model_cache): a model is
verified (sha256) and loaded once, not per request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from cartridge.config.settings import InferenceSettings
from cartridge.games import get_game
from cartridge.inference import Evaluator, UniformEvaluator
from cartridge.inference.onnx import evaluator_from_settings
from cartridge.modelstore.base import ModelInfo, ModelStore

log = logging.getLogger(__name__)


class UnknownModelError(LookupError):
    """The requested model (pointer or version) does not exist for that game."""


class ModelCatalog:
    def __init__(self, open_store: Callable[[str], ModelStore], inference: InferenceSettings,
                 cache_size: int) -> None:
        self._open_store = open_store
        self._inference = inference
        self._cache_size = cache_size
        self._stores: dict[str, ModelStore] = {}
        self._evaluators: OrderedDict[tuple[str, int], Evaluator] = OrderedDict()
        self._infos: dict[tuple[str, int], ModelInfo] = {}  # a version's metadata never changes
        self._lock = threading.Lock()

    def store(self, env_id: str) -> ModelStore:
        with self._lock:
            if env_id not in self._stores:
                self._stores[env_id] = self._open_store(env_id)
            return self._stores[env_id]

    def resolve(self, env_id: str, model: str) -> ModelInfo | None:
        """The model `model` names ("latest", "best" or a version number); None for
        "latest" before any model exists (the uniform evaluator plays)."""
        store = self.store(env_id)
        if model in ("latest", "best"):
            version = store.pointer(model)
            if version is None:
                if model == "latest":
                    return None
                raise UnknownModelError(f"no {env_id} model has been promoted to best yet")
        else:
            version = int(model)
            if version not in store.versions():
                raise UnknownModelError(f"{env_id} has no model version {version}")
        return store.info(version)

    def infos(self, env_id: str) -> list[ModelInfo]:
        """Every stored version's metadata, oldest first (each read from the store once)."""
        store = self.store(env_id)
        found = []
        for version in store.versions():
            key = (env_id, version)
            if key not in self._infos:
                self._infos[key] = store.info(version)
            found.append(self._infos[key])
        return found

    def evaluator(self, info: ModelInfo | None) -> Evaluator:
        if info is None:
            return UniformEvaluator()
        key = (info.env_id, info.version)
        with self._lock:
            if key in self._evaluators:
                self._evaluators.move_to_end(key)
                return self._evaluators[key]
        # Loaded outside the lock: a slow load does not hold up other games' requests.
        onnx = self.store(info.env_id).load_onnx(info.version)  # sha256-verified
        evaluator = evaluator_from_settings(onnx, game=get_game(info.env_id),
                                           model_version=info.version,
                                           inference=self._inference)
        with self._lock:
            self._evaluators[key] = evaluator
            self._evaluators.move_to_end(key)
            while len(self._evaluators) > self._cache_size:
                dropped, _ = self._evaluators.popitem(last=False)
                log.info("model cache full: dropped %s version %d", *dropped)
        return evaluator

    def cached(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._evaluators)
