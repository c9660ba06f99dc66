"""The arena's loop: one unit of work at a time, newest version first.

A unit is a gate match (the newest version against `best`, or against random
while there is no `best`), a rating match (a version against one opponent),
or a benchmark. Each is recorded in the journal in one transaction before the
next starts, and what is recorded is never played again, so an arena killed at
any point resumes where it was. Benchmarks and rating matches take turns, each
for the newest version that still needs one. After each unit it rests [arena] pause
seconds;
with nothing to do it looks at the store again after [arena] poll_interval.

A version that cannot be loaded (corrupt, or for another game) is refused,
logged once and skipped from then on. An unreachable database or model store,
or any other store failure but rejected credentials or permissions, is retried
with doubling waits (at most MAX_BACKOFF seconds); it never ends the loop.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from arena.metrics import ArenaMetrics
from arena.schedule import (
    match_key,
    model_name,
    parse_model_name,
    rating_opponents,
    work_order,
)
from arena.wiring import ArenaInputs
from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.anchors import RANDOM, anchor_names, make_anchor
from cartridge.arena.benchmark import tictactoe_benchmark
from cartridge.arena.connect4_benchmark import (
    STAGES,
    LabelledPosition,
    connect4_benchmark,
    load_labelled_positions,
)
from cartridge.arena.connect4_solver import INSTALL_HINT as SOLVER_HINT
from cartridge.arena.connect4_solver import solver_installed
from cartridge.arena.gate import gate_decision
from cartridge.arena.match import GameResult, play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.arena.ratings import PairRecord, fit_ratings
from cartridge.inference.onnx import ModelLoadError, ModelMismatchError, OnnxEvaluator
from cartridge.journal import (
    BenchmarkRow,
    GameRow,
    GateRow,
    Journal,
    JournalUnavailableError,
    MatchRecord,
    PromotionRow,
    RatingRow,
)
from cartridge.modelstore.base import (
    CorruptModelError,
    ModelStore,
    ModelStoreConnectionError,
    ModelStoreError,
    ModelStoreUnavailableError,
)
from cartridge.players import Player

log = logging.getLogger("arena")

MAX_BACKOFF = 60.0
TICTACTOE_BENCHMARK = "tictactoe-perfect-play"
CONNECT4_BENCHMARK = "connect4-labelled-positions"
_CACHED_MODELS = 4  # evaluators kept loaded (a match needs two)

Rest = Callable[[float], bool]  # sleep up to `seconds`; True when the arena must stop


class RefusedModelError(Exception):
    """A version that cannot be played; it is skipped from now on."""


class Arena:
    def __init__(self, inputs: ArenaInputs, stop: threading.Event,
                 rest: Rest | None = None, metrics: ArenaMetrics | None = None) -> None:
        self.inputs = inputs
        self.metrics = metrics or ArenaMetrics(inputs.game.id)
        self.game = inputs.game
        self.env_id = inputs.game.id
        self.settings = inputs.arena
        self.stop = stop
        self.rest: Rest = rest or stop.wait
        self.openings = select_openings(self.env_id, self.settings.openings)
        if self.settings.connect4_solver and self.env_id == "connect4" \
                and not solver_installed():
            raise ValueError(f"[arena] connect4_solver = true: {SOLVER_HINT}")
        self.anchors = anchor_names(self.env_id, connect4_solver=self.settings.connect4_solver)
        self.refused: set[int] = set()
        self._benchmark_next = True  # the kind of unit tried first; it alternates
        self._store: ModelStore | None = None
        self._journal: Journal | None = None
        self._evaluators: OrderedDict[int, OnnxEvaluator] = OrderedDict()
        self._steps: dict[int, int] = {}
        self.connect4_positions = self._load_connect4_positions(inputs)

    # -- the loop ---------------------------------------------------------------------

    def run(self, *, until_idle: bool = False) -> None:
        """Until stopped; with `until_idle`, until a look finds nothing to do."""
        delay = 1.0
        while not self.stop.is_set():
            try:
                worked = self.step()
            except (JournalUnavailableError, ModelStoreError) as err:
                if (isinstance(err, ModelStoreConnectionError)
                        and not isinstance(err, ModelStoreUnavailableError)):
                    raise  # credentials or permissions: waiting cannot fix them
                self._retry_later(err, delay)
                delay = min(2 * delay, MAX_BACKOFF)
                continue
            delay = 1.0
            if until_idle and not worked:
                break
            self.rest(self.settings.pause if worked else self.settings.poll_interval)
        self._close_journal()

    def _retry_later(self, err: Exception, delay: float) -> None:
        log.warning("%s; retrying in %.0f s", err, delay)
        self._close_journal()
        self._store = None  # reopened (and checked again) on the next step
        self.rest(delay)

    def step(self) -> bool:
        """One unit of work; False when there is nothing to do."""
        store, journal = self.store, self.journal
        versions = [v for v in store.versions() if v not in self.refused]
        if not versions:
            return False
        best = store.pointer("best")
        done = journal.match_keys(self.env_id)
        try:
            if self.settings.gate == "match" and self._gate(versions[-1], best, done):
                return True
            # Benchmarks and rating matches take turns: while versions arrive faster than
            # the arena gets through a version's work (a small machine, a short
            # checkpoint interval), always finishing one kind first would starve the
            # other, and the dashboard would show ratings but no benchmark, or the reverse.
            def benchmark(version: int) -> bool:
                return self._benchmark(version)

            def rate(version: int) -> bool:
                return self._rate(version, versions, best, done)

            kinds = (benchmark, rate) if self._benchmark_next else (rate, benchmark)
            for kind in kinds:
                for version in work_order(versions):
                    if kind(version):
                        self._benchmark_next = kind is rate
                        return True
        except RefusedModelError:
            return True  # the store changed under us: look again
        return False

    @property
    def store(self) -> ModelStore:
        if self._store is None:
            self._store = self.inputs.open_store()
        return self._store

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = self.inputs.open_journal()
        return self._journal

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
        self._journal = None

    # -- work -------------------------------------------------------------------------

    def _gate(self, candidate: int, best: int | None, done: set[str]) -> bool:
        """Judge the newest version against `best` (random while there is none)."""
        if best is not None and (candidate <= best or best in self.refused):
            return False  # nothing newer, or a `best` that cannot be loaded (logged)
        incumbent = RANDOM if best is None else model_name(best)
        key = self._key("gate", model_name(candidate), incumbent)
        decided = {(g.candidate, g.incumbent): g for g in self.journal.gate_decisions(self.env_id)}
        previous = decided.get((candidate, incumbent))
        if previous is not None:
            if previous.passed and best != candidate:  # killed between decision and promote
                self._promote(candidate, best)
                return True
            return False
        if key in done:  # killed between the match and its decision: decide from the record
            (recorded,) = self.journal.matches(self.env_id, key)
            results = [GameResult(g.opening, g.seat_a, g.score_a, g.plies)
                       for g in recorded.games]
        else:
            results = self._play("gate", model_name(candidate), incumbent, key)
        decision = gate_decision(results, self.settings.gate_confidence)
        self.journal.record_gate_decision(GateRow(
            env_id=self.env_id, candidate=candidate, incumbent=incumbent, match_key=key,
            passed=decision.passed, games=decision.games, score=decision.score,
            p_value=decision.p_value, evidence=decision.evidence(), decided_at=time.time()))
        log.info("gate v%d vs %s: %s (score %.3f, pairs %d-%d-%d, p = %.4f)", candidate,
                 incumbent, "PROMOTED" if decision.passed else "not promoted", decision.score,
                 decision.pairs_won, decision.pairs_tied, decision.pairs_lost, decision.p_value)
        if decision.passed:
            self._promote(candidate, best)
        return True

    def _promote(self, version: int, previous: int | None) -> None:
        self.store.promote(version)
        self.journal.record_promotion(PromotionRow(self.env_id, version, previous, time.time()))
        self.metrics.promotions.inc()
        self._refit()  # the best version's rating gauges follow the new best
        log.info("best is now v%d (was %s)", version, "none" if previous is None else
                 f"v{previous}")

    def _rate(self, version: int, versions: list[int], best: int | None,
              done: set[str]) -> bool:
        """The next rating match of `version` not yet recorded, if any."""
        for opponent in rating_opponents(version, versions, best, self.anchors,
                                         self.settings.history_opponents):
            key = self._key("rating", model_name(version), opponent)
            if key not in done:
                self._play("rating", model_name(version), opponent, key)
                self._refit()
                return True
        return False

    def _load_connect4_positions(self, inputs: ArenaInputs) -> list[LabelledPosition]:
        """The labelled positions, read once at start: a missing or malformed file stops
        the arena there (ValueError naming it), not in the middle of a run."""
        path = inputs.connect4_positions
        if path is None or self.env_id != "connect4":
            return []
        try:
            positions = load_labelled_positions(path)
        except OSError as err:
            raise ValueError(f"[arena] connect4_positions: cannot read {path}: "
                             f"{err.strerror}") from None
        log.info("Connect Four benchmark: %d labelled positions from %s", len(positions), path)
        return positions

    def _benchmark(self, version: int) -> bool:
        """The game's perfect-play benchmark for the network alone and with search."""
        name = {"tictactoe": TICTACTOE_BENCHMARK, "connect4": CONNECT4_BENCHMARK}.get(
            self.env_id)
        if name is None or (name == CONNECT4_BENCHMARK and not self.connect4_positions):
            return False
        if version in self.journal.benchmarked_versions(self.env_id, name):
            return False
        evaluator = self._evaluator(version)
        sims = self.inputs.search.num_simulations
        agents: dict[str, tuple[Player, int]] = {
            "network": (PolicyPlayer(self.game, evaluator), 0),
            "search": (search_player(self.game, evaluator, self.inputs.search, sims,
                                     np.random.default_rng(version)), sims)}
        for mode, (agent, simulations) in agents.items():
            score, figures = (self._tictactoe(agent) if name == TICTACTOE_BENCHMARK
                              else self._connect4(agent))
            self.journal.record_benchmark(BenchmarkRow(
                env_id=self.env_id, version=version, benchmark=name, mode=mode,
                num_simulations=simulations, score=score, figures=figures))
            self.metrics.benchmarked(version, mode, score)
            log.info("benchmark v%d %s: value kept in %.1f%% of positions %s", version, mode,
                     100 * score, figures)
        return True

    @staticmethod
    def _tictactoe(agent: Player) -> tuple[float, dict[str, float]]:
        result = tictactoe_benchmark(agent)
        return result.value_kept_share, {"positions": result.positions,
                                         "value_kept": result.value_kept,
                                         "losses": result.losses}

    def _connect4(self, agent: Player) -> tuple[float, dict[str, float]]:
        """Score: the share of positions whose outcome the move keeps (1 - mistake rate)."""
        result = connect4_benchmark(agent, self.connect4_positions)
        figures: dict[str, float] = {"positions": result["all"].positions}
        for stage in (*STAGES, "all"):
            figures[f"mistake_rate_{stage}"] = result[stage].mistake_rate
        return 1.0 - result["all"].mistake_rate, figures

    # -- playing and rating -----------------------------------------------------------

    def _play(self, purpose: str, player_a: str, player_b: str, key: str) -> list[GameResult]:
        rng = np.random.default_rng(zlib.crc32(key.encode()))  # a replayed key plays the same
        started = time.monotonic()
        results = play_match_games(self.game, self._player(player_a, rng),
                                   self._player(player_b, rng), self.openings)
        self.journal.record_match(MatchRecord(
            env_id=self.env_id, match_key=key, purpose=purpose, player_a=player_a,
            player_b=player_b, num_simulations=self.inputs.search.num_simulations,
            games=tuple(GameRow(r.opening, r.seat_a, r.score_a, r.plies) for r in results),
            played_at=time.time()))
        seconds = time.monotonic() - started
        self.metrics.match_played(purpose, len(results), seconds)
        log.info("%s match %s vs %s: %s (%d games, %.1f s)", purpose, player_a, player_b,
                 summarise(results), len(results), seconds)
        return results

    def _player(self, name: str, rng: np.random.Generator) -> Player:
        version = parse_model_name(name)
        if version is None:
            return make_anchor(name, self.game, rng)
        return search_player(self.game, self._evaluator(version), self.inputs.search,
                             self.inputs.search.num_simulations, rng)

    def _evaluator(self, version: int) -> OnnxEvaluator:
        if version in self._evaluators:
            self._evaluators.move_to_end(version)
            return self._evaluators[version]
        try:
            evaluator = OnnxEvaluator(self.store.load_onnx(version), game=self.game,
                                      model_version=version, provider=self.inputs.provider,
                                      intra_op_threads=self.inputs.threads,
                                      spinning=self.inputs.spinning)
        except (CorruptModelError, ModelLoadError, ModelMismatchError) as err:
            log.error("refusing v%d: %s", version, err)
            self.refused.add(version)
            raise RefusedModelError(str(err)) from None
        self._evaluators[version] = evaluator
        while len(self._evaluators) > _CACHED_MODELS:
            self._evaluators.popitem(last=False)
        return evaluator

    def _refit(self) -> None:
        totals = self.journal.pair_totals(self.env_id)
        fit = fit_ratings(PairRecord(t.player_a, t.player_b, t.games, t.score_a)
                          for t in totals)
        now = time.time()
        rows = []
        for rating in fit.ratings.values():
            version = parse_model_name(rating.player)
            rows.append(RatingRow(rating.player, version, self._step(version), rating.elo,
                                  rating.interval, rating.games, now))
        self.journal.replace_ratings(self.env_id, rows)
        models = {r.version: r for r in rows if r.version is not None}
        best = self.store.pointer("best")
        for kind, version in (("latest", max(models, default=None)), ("best", best)):
            if version in models:
                self.metrics.rated(kind, version, models[version].elo, models[version].interval)

    def _step(self, version: int | None) -> int | None:
        if version is None:
            return None
        if version not in self._steps:
            try:
                self._steps[version] = self.store.info(version).step
            except CorruptModelError:
                return None
        return self._steps[version]

    def _key(self, purpose: str, player_a: str, player_b: str) -> str:
        return match_key(purpose, player_a, player_b, self.inputs.search.num_simulations,
                         len(self.openings))
