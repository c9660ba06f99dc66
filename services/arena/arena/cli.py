"""`python -m arena`: flags -> settings -> wiring -> the arena loop.

Exit codes: 0 stopped (SIGTERM/SIGINT) or, with --until-idle, nothing left to
do; 2 bad configuration or flags (the message names the key), or a journal
this program cannot use (e.g. a newer schema).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from cartridge.config.entry import EXIT_CONFIG, configure_logging, settings_from_flags
from cartridge.config.settings import Settings

log = logging.getLogger("arena")

EXIT_OK = 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m arena",
        description="Cartridge arena: rate every model version, gate promotion to best.")
    add = parser.add_argument
    add("--config", type=Path, help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    add("--env", help="[common] env_id: the game whose models to rate")
    add("--num-simulations", type=int, help="[arena] num_simulations per move")
    add("--gate", help="[arena] gate: off | match")
    add("--until-idle", action="store_true",
        help="exit 0 once every stored version is rated (scripts and benchmarks)")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {"common": {"env_id": args.env},
            "arena": {"num_simulations": args.num_simulations, "gate": args.gate}}


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT end the loop after the current unit of work (a match in progress
    is dropped unrecorded: recording is all or nothing, and it is played again)."""

    def handle(signum: int, _frame: object) -> None:
        log.info("%s: stopping after the current unit of work", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings: Settings = settings_from_flags(parser, argv, overrides_from_args)
    configure_logging(settings.common.log_level)
    logging.getLogger("cartridge.inference.onnx").setLevel(logging.WARNING)  # load chatter
    from arena.loop import Arena
    from arena.metrics import ArenaMetrics
    from arena.wiring import arena_inputs
    from cartridge.journal import JournalError
    from cartridge.metrics import serve_metrics
    from cartridge.modelstore.base import ModelStoreConnectionError

    stop = threading.Event()
    install_stop_handlers(stop)
    metrics = ArenaMetrics(settings.common.env_id)
    serve_metrics(settings.arena.metrics_port, metrics.registry)
    try:
        arena = Arena(arena_inputs(settings), stop, metrics=metrics)
    except ValueError as err:  # the Connect Four positions file
        log.error("%s", err)
        return EXIT_CONFIG
    log.info("arena: %s, %d openings x 2 seats per match, %d simulations, gate %s",
             settings.common.env_id, len(arena.openings), settings.arena.num_simulations,
             settings.arena.gate)
    try:
        arena.run(until_idle=args.until_idle)
    except (ModelStoreConnectionError, JournalError) as err:
        # Unreachable ones are retried inside run(); these are configuration problems
        # (credentials, a journal with a newer schema) that waiting cannot fix.
        log.error("%s", err)
        return EXIT_CONFIG
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
