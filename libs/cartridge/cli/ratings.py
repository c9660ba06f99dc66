"""`cartridge ratings [--env ENV]`: the arena's ratings table, from the journal.

One row per model version and anchor, strongest first: training step, rating
on the Elo scale (random = 0) with its 95% interval, games played, the
tic-tac-toe perfect-play benchmark (share of positions whose value the move
keeps, and lost lines against every reply; network alone / with search), and
which version is `best` (`*`) or was promoted.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cartridge.config import SettingsError, load_settings
from cartridge.config.entry import apply_log_level
from cartridge.journal import BenchmarkRow, Journal, JournalError, open_journal
from cartridge.modelstore import ModelStoreError
from cartridge.modelstore.factory import open_model_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    parser.add_argument("--env", default=None, help="game id (default: [common] env_id)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, overrides={"common": {"env_id": args.env}})
        apply_log_level(settings)
        env_id = settings.common.env_id
        best = open_model_store(settings).pointer("best")
        with open_journal(settings.storage, settings.common.data_dir) as journal:
            print(ratings_table(journal, env_id, best))
    except (SettingsError, ModelStoreError, JournalError) as err:
        log.error("%s", err)
        return 1
    return 0


def latest_summary(journal: Journal, env_id: str) -> str | None:
    """One line on the newest rated version, for progress lines (`cartridge run`):
    "arena v12 (step 1200) 412 ± 35 Elo, value kept 93.1% with search"; None before any."""
    models = [r for r in journal.ratings(env_id) if r.version is not None]
    if not models:
        return None
    newest = max(models, key=lambda r: r.version or 0)
    line = (f"arena v{newest.version} (step {newest.step}) {newest.elo:.0f} ± "
            f"{newest.interval:.0f} Elo")
    searched = [b for b in journal.benchmarks(env_id)
                if b.version == newest.version and b.mode == "search"]
    if searched:
        line += f", value kept {100 * searched[0].score:.1f}% with search"
    return line


def ratings_table(journal: Journal, env_id: str, best: int | None) -> str:
    ratings = journal.ratings(env_id)
    if not ratings:
        return f"no ratings for {env_id} yet (the arena records them as it plays)"
    benchmarks: dict[tuple[int, str], BenchmarkRow] = {
        (b.version, b.mode): b for b in journal.benchmarks(env_id)}
    promoted = {p.version for p in journal.promotions(env_id)}
    lines = [f"{'player':<14} {'step':>8} {'rating':>8} {'± 95%':>7} {'games':>6}  "
             f"{'value kept (net / search)':<26} {'lost lines':<11} best"]
    for r in ratings:
        step = "" if r.step is None else str(r.step)
        kept = lost = ""
        if r.version is not None:
            net, search = benchmarks.get((r.version, "network")), benchmarks.get(
                (r.version, "search"))
            if net and search:
                kept = f"{100 * net.score:5.1f}% / {100 * search.score:5.1f}%"
                lost = f"{net.figures.get('losses')} / {search.figures.get('losses')}"
        mark = "*" if r.version is not None and r.version == best else (
            "promoted" if r.version in promoted else "")
        lines.append(f"{r.player:<14} {step:>8} {r.elo:>8.0f} {r.interval:>7.0f} "
                     f"{r.games:>6}  {kept:<26} {lost:<11} {mark}")
    return "\n".join(lines)
