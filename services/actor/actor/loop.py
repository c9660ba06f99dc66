"""The actor's loop, top to bottom as labelled phases.

    1. open      replay store + writer (bounded queue), model store + watcher
                 following [actor] model_follow and loading each version in the
                 game's precision ([selfplay.<game>] or [inference] precision: fp32
                 or int8; a version without an int8 model is skipped with an
                 error, never played in fp32 instead); a model that
                 already exists plays from the first move, else the uniform evaluator
    2. play      one batched search step over every concurrent game; between
                 steps the watcher's newest model is swapped in (games in flight
                 go on with it; every position records the version that played it);
                 finished games go to the writer (put() blocks when the store
                 lags: backpressure, never dropped); with playout cap randomization
                 a game whose every move was fast has nothing to write: it is
                 counted (max_episodes, the games metric), never written
    3. report    every few seconds: positions/s, games, model version, to the log
                 and the status file (also at once when the model changes)
    4. stop      on `stop` (SIGTERM/SIGINT) or max_episodes: the current step
                 finishes, unfinished games are dropped (a partial game is never
                 written), the writer flushes, the status file says "stopped"

Never imports torch: models run on ONNX Runtime.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from actor.stats import ActorStats, StatusFile, status_path
from cartridge.config.settings import InferenceSettings, Settings
from cartridge.games import Game, get_game
from cartridge.inference import Evaluator, UniformEvaluator
from cartridge.journal import BestEffortJournal, Heartbeat, open_journal
from cartridge.mcts import SearchConfig
from cartridge.metrics import ActorMetrics, serve_metrics
from cartridge.modelstore.base import ModelInfo
from cartridge.modelstore.factory import open_model_store
from cartridge.modelstore.watcher import ModelWatcher
from cartridge.replay.base import GameRecord, ReplayStore, ReplayUnavailableError
from cartridge.replay.factory import open_replay_store, open_replay_writer
from cartridge.replay.writer import ReplayWriter
from cartridge.selfplay import PlayoutCap, SelfPlay
from cartridge.threads import resolve_inference

log = logging.getLogger(__name__)

# Seconds between progress reports (log line + status file).
REPORT_INTERVAL = 5.0
# Seconds put() waits on a full writer queue before checking for a stop request.
_PUT_POLL = 0.5
# Replay connections one actor needs (PostgreSQL): the writer thread's, and a spare.
_REPLAY_POOL = 2
# Seconds between attempts to open an unreachable replay database (doubling).
_OPEN_BACKOFF_START, _OPEN_BACKOFF_MAX = 1.0, 30.0


def run_actor(settings: Settings, actor_id: str, stop: threading.Event) -> ActorStats:
    """Self-play until `stop` is set or [actor] max_episodes games are written."""
    cfg = settings.actor
    game = get_game(settings.common.env_id)
    precision = settings.actor_precision(game.id)
    stats = ActorStats(actor_id=actor_id, env_id=game.id, precision=precision)
    status = StatusFile(status_path(settings.common.data_dir, actor_id))
    status.write(stats)
    metrics = ActorMetrics(game.id)
    metrics_server = serve_metrics(cfg.metrics_port, metrics.registry)

    # ---- 1. open -----------------------------------------------------------------
    replay = _open_replay(settings, stop)
    if replay is None:  # stopped while the database was unreachable: nothing played
        stats.state = "stopped"
        status.write(stats)
        if metrics_server is not None:
            metrics_server.shutdown()
        return stats
    writer = open_replay_writer(replay, settings.replay)
    metrics.observe_writer(writer)
    models = open_model_store(settings, game.id)
    inference = resolve_inference(settings.inference)
    watcher = ModelWatcher(
        models, follow=cfg.model_follow, precision=precision,
        reload_interval=cfg.reload_interval,
        load=metrics.track_loads(lambda info, onnx: load_evaluator(game, inference, info, onnx)),
    )
    watcher.check_now()  # a restarted actor plays the current model from its first move
    evaluator: Evaluator = watcher.poll() or UniformEvaluator()
    watcher.start()
    concurrent = cfg.concurrent_games
    if cfg.max_episodes >= 0:
        concurrent = max(1, min(concurrent, cfg.max_episodes))
    search = SearchConfig.from_settings(settings.selfplay.search(game.id, settings.mcts))
    selfplay = SelfPlay(game, metrics.instrument(evaluator), search,
                        concurrent_games=concurrent, actor_id=actor_id,
                        rng=_rng(cfg.seed, actor_id),
                        playout_cap=PlayoutCap.from_settings(settings.selfplay),
                        search_value_weight=settings.selfplay.value_weight(game.id),
                        random_opening_plies=settings.selfplay.opening_plies(game.id),
                        root_noise_plies=settings.selfplay.root_noise_plies)
    log.info("actor %s: %s, %d concurrent games, %s search, %d simulations%s%s%s%s, model %s "
             "(follows %s in %r, plays %s models)", actor_id, game.id, concurrent,
             _describe_search(search), search.num_simulations,
             _describe_cap(selfplay.playout_cap),
             _describe_value_targets(selfplay.search_value_weight),
             _describe_openings(selfplay.random_opening_plies),
             _describe_root_noise(selfplay.root_noise_plies),
             _describe(evaluator.model_version), cfg.model_follow, models, precision)
    stats.state = "playing"
    _model_changed(stats, evaluator.model_version, status)
    metrics.model_in_use(evaluator.model_version, reload=False)
    heartbeats = BestEffortJournal(
        lambda: open_journal(settings.storage, settings.common.data_dir), "heartbeats")
    report = _Report(stats, status, writer, watcher, heartbeats)

    # ---- 2. play -----------------------------------------------------------------
    started_games = concurrent
    try:
        while not stop.is_set():
            fresh = watcher.poll()
            if fresh is not None:
                selfplay.set_evaluator(metrics.instrument(fresh))
                _model_changed(stats, fresh.model_version, status)
                metrics.model_in_use(fresh.model_version)
            restart = cfg.max_episodes < 0 or started_games < cfg.max_episodes
            games_before, fast_before = selfplay.games_finished, selfplay.fast_moves
            finished = selfplay.step(restart_finished=restart)
            ended = selfplay.games_finished - games_before
            metrics.fast_moves.inc(selfplay.fast_moves - fast_before)
            for _ in range(ended - len(finished)):  # every move fast: nothing to write
                metrics.game_finished(0)
            if restart:
                started_games += ended
            if cfg.max_episodes >= 0:  # a step may finish more games than are still wanted
                finished = finished[:max(0, cfg.max_episodes - stats.games)]
            for record in finished:
                if not _put(writer, record, stop):
                    log.error("stopping with the replay store unreachable: finished game %s "
                              "not stored", record.game_id)
                    break
                stats.games += 1
                stats.positions += record.num_positions
                metrics.game_finished(record.num_positions)
            stats.games_in_flight = selfplay.games_in_flight
            # ---- 3. report -----------------------------------------------------------
            report.maybe(selfplay.positions_played)
            if cfg.max_episodes >= 0 and (
                stats.games >= cfg.max_episodes or selfplay.games_in_flight == 0
            ):
                log.info("played max_episodes = %d games", cfg.max_episodes)
                break
    finally:
        # ---- 4. stop -----------------------------------------------------------------
        stats.state = "stopping"
        if selfplay.games_in_flight:
            log.info("dropping %d unfinished games (partial games are never written)",
                     selfplay.games_in_flight)
        watcher.close(timeout=2.0)
        stored = writer.close()
        replay.close()
        heartbeats.close()
        stats.games_stored = writer.acknowledged_games
        stats.games_in_flight = 0
        stats.state = "stopped"
        status.write(stats)
        if metrics_server is not None:
            metrics_server.shutdown()
        log.info("actor %s stopped: %d games (%d positions) written%s", actor_id, stats.games,
                 stats.positions, "" if stored else "; some games could not be stored")
    return stats


def load_evaluator(game: Game, inference: InferenceSettings, info: ModelInfo,
                   onnx: bytes) -> Evaluator:
    """The watcher's loader: verified ONNX bytes (of the game's precision) -> an evaluator
    tagged with its version."""
    from cartridge.inference.onnx import evaluator_from_settings

    return evaluator_from_settings(onnx, game=game, model_version=info.version,
                                   inference=inference)


def _rng(seed: int, actor_id: str) -> np.random.Generator:
    """Seed 0: fresh entropy. A fixed seed is mixed with the actor id, so replicas
    sharing one config still play different games."""
    if seed == 0:
        return np.random.default_rng()
    return np.random.default_rng([seed, zlib.crc32(actor_id.encode())])


def _open_replay(settings: Settings, stop: threading.Event) -> ReplayStore | None:
    """The replay store, waited for with backoff while its server is unreachable (a
    database that is down or restarting); None if stopped meanwhile. Wrong settings
    (password, database, permission) raise at once."""
    delay = _OPEN_BACKOFF_START
    while True:
        try:
            return open_replay_store(settings.storage, settings.common.data_dir,
                                     pool_size=_REPLAY_POOL)
        except ReplayUnavailableError as err:
            log.warning("replay buffer unreachable, retrying in %.0f s: %s", delay, err)
        if stop.wait(delay):
            return None
        delay = min(delay * 2, _OPEN_BACKOFF_MAX)


def _put(writer: ReplayWriter, record: GameRecord, stop: threading.Event) -> bool:
    """Queue a finished game, blocking while the queue is full (backpressure);
    False only if a stop request arrives while the store cannot take it."""
    while True:
        try:
            writer.put(record, timeout=_PUT_POLL)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def _describe(version: int) -> str:
    return f"version {version}" if version else "uniform (no model yet)"


def _describe_search(search: SearchConfig) -> str:
    if search.algorithm == "gumbel":
        return f"gumbel (m = {search.gumbel_considered})"
    return search.algorithm


def _describe_cap(cap: PlayoutCap) -> str:
    if not cap.on:
        return ""
    return (f" on {cap.full_search_fraction:.0%} of moves (the rest {cap.fast_simulations},"
            f" not recorded)")


def _describe_value_targets(weight: float) -> str:
    if not weight:
        return ""
    return f", value targets {1 - weight:.2f} result + {weight:.2f} root value"


def _describe_openings(plies: int) -> str:
    if not plies:
        return ""
    return f", games open with 0-{plies} random moves (not recorded)"


def _describe_root_noise(plies: int) -> str:
    if plies < 0:
        return ""
    return f", root noise on the first {plies} plies only"


def _model_changed(stats: ActorStats, version: int, status: StatusFile) -> None:
    """Record the swap at once: the status file is how others see what is played."""
    stats.model_version = version
    stats.model_loaded_at = time.time()
    status.write(stats)
    log.info("playing with model %s%s", _describe(version),
             f" ({stats.precision})" if version else "")


@dataclass
class _Report:
    stats: ActorStats
    status: StatusFile
    writer: ReplayWriter
    watcher: ModelWatcher
    heartbeats: BestEffortJournal  # the web dashboard's view of this actor
    _since: float = field(default_factory=time.monotonic)
    _positions_then: int = 0

    def maybe(self, positions_played: int) -> None:
        now = time.monotonic()
        if now - self._since < REPORT_INTERVAL:
            return
        stats = self.stats
        stats.positions_per_s = (positions_played - self._positions_then) / (now - self._since)
        stats.games_stored = self.writer.acknowledged_games
        stats.refused_versions = sorted(self.watcher.refused_versions)
        self._since, self._positions_then = now, positions_played
        self.status.write(stats)
        beat = Heartbeat(actor_id=stats.actor_id, env_id=stats.env_id,
                         model_version=stats.model_version, games=stats.games,
                         positions=stats.positions, positions_per_s=stats.positions_per_s,
                         started_at=stats.started_at, updated_at=time.time())
        self.heartbeats.write(lambda journal: journal.heartbeat(beat))
        log.info("%.0f positions/s, %d games (%d positions) written, %d stored, %d pending, "
                 "model %s", stats.positions_per_s, stats.games, stats.positions,
                 stats.games_stored, self.writer.pending_games, _describe(stats.model_version))
