"""`python -m actor`: flags -> settings -> the self-play loop.

Every flag is also a `config.toml` key and a CARTRIDGE_<SECTION>_<KEY>
variable; flags win over the environment, the environment over the file.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT: the current step finishes,
unfinished games are dropped, finished ones flushed) or max_episodes played,
2 bad configuration or an unusable store at start-up.
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
from cartridge.games.registry import GAME_IDS

log = logging.getLogger("actor")

EXIT_OK = 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actor",
        description="Cartridge actor: continuous self-play into the replay buffer.",
    )
    add = parser.add_argument
    add("--config", type=Path, help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    add("--env", help="[common] env_id: the game to play")
    add("--data-dir", type=Path, help="[common] data_dir: SQLite, models, status files")
    add("--actor-id", help="[actor] actor_id (default: hostname + random suffix)")
    add("--max-episodes", type=int, help="[actor] max_episodes: games before exiting, -1 = forever")
    add("--concurrent-games", type=int, help="[actor] concurrent_games")
    add("--reload-interval", type=float, help="[actor] reload_interval (seconds)")
    add("--model-follow", help="[actor] model_follow: latest | best")
    add("--seed", type=int, help="[actor] seed (0 = fresh)")
    add("--sims", type=int,
        help="simulations per self-play move: [selfplay.<game>] num_simulations")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} for the flags that were given (None = not given)."""
    return {
        "common": {"env_id": args.env, "data_dir": args.data_dir},
        "actor": {
            "actor_id": args.actor_id,
            "max_episodes": args.max_episodes,
            "concurrent_games": args.concurrent_games,
            "reload_interval": args.reload_interval,
            "model_follow": args.model_follow,
            "seed": args.seed,
        },
        # Every game's self-play count (the game is known only once settings are loaded);
        # left out when not given: a nested None would unset config.toml's value.
        "selfplay": ({game: {"num_simulations": args.sims} for game in GAME_IDS}
                     if args.sims is not None else {}),
    }


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM (preemption, `cartridge run` stopping) and SIGINT: finish the step, stop."""

    def handle(signum: int, _frame: object) -> None:
        if not stop.is_set():
            log.info("%s: finishing the current step, then stopping",
                     signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str] | None = None) -> int:
    settings = settings_from_flags(build_parser(), argv, overrides_from_args)
    configure_logging(settings.common.log_level)
    from actor.identity import actor_id
    from actor.loop import run_actor
    from cartridge.modelstore.base import ModelStoreConnectionError
    from cartridge.replay.base import ReplayConnectionError

    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        run_actor(settings, actor_id(settings.actor.actor_id), stop)
    except (ValueError, ModelStoreConnectionError, ReplayConnectionError) as err:
        # What the settings model cannot check alone: postgres_url, S3 endpoint/credentials.
        log.error("%s", err)
        return EXIT_CONFIG
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
