"""`python -m trainer`: flags -> settings -> wiring -> the training loop.

Every flag is also a `config.toml` key and a CARTRIDGE_<SECTION>_<KEY>
variable; flags win over the environment, the environment over the file.
Relative --db, --model-dir and --stats paths are taken from the current
directory (config-file paths stay relative to [common] data_dir).

Exit codes: 0 done or stopped cleanly (SIGTERM/SIGINT checkpoint first),
1 the replay buffer never filled within [training] max_wait or training
failed, 2 bad configuration or flags.
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

log = logging.getLogger("trainer")

EXIT_OK, EXIT_FAILED = 0, 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Cartridge trainer: train on the replay buffer, publish ONNX models.",
    )
    add = parser.add_argument
    add("--config", type=Path, help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    add("--env", help="[common] env_id: the game to train")
    add("--db", type=Path, help="[storage] sqlite_path: SQLite replay database")
    add("--model-dir", type=Path, help="[storage] model_dir: filesystem model store root")
    add("--stats", type=Path, help="[training] stats: stats.json to write")
    add("--steps", type=int, help="[training] steps: train until this global step")
    add("--batch-size", type=int, help="[training] batch_size")
    add("--lr", type=float, help="[training] lr: peak learning rate")
    add("--weight-decay", type=float, help="[training] weight_decay")
    add("--grad-clip", type=float, help="[training] grad_clip: global norm, 0 = off")
    add("--checkpoint-interval", type=int, help="[training] checkpoint_interval (steps)")
    add("--device", help="[training] device: auto | cpu | cuda | mps")
    add("--no-lr-schedule", dest="lr_schedule", action="store_const", const=False,
        help="[training] lr_schedule = false: constant lr after warm-up")
    add("--lr-min-ratio", type=float, help="[training] lr_min_ratio: cosine floor / peak")
    add("--wait-interval", type=float, help="[training] wait_interval (seconds)")
    add("--max-wait", type=float, help="[training] max_wait (seconds, 0 = forever)")
    return parser


def _from_cwd(path: Path | None) -> Path | None:
    return None if path is None else Path.cwd() / path


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} for the flags that were given (None = not given)."""
    return {
        "common": {"env_id": args.env},
        "storage": {"sqlite_path": _from_cwd(args.db), "model_dir": _from_cwd(args.model_dir)},
        "training": {
            "stats": _from_cwd(args.stats),
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "grad_clip": args.grad_clip,
            "checkpoint_interval": args.checkpoint_interval,
            "device": args.device,
            "lr_schedule": args.lr_schedule,
            "lr_min_ratio": args.lr_min_ratio,
            "wait_interval": args.wait_interval,
            "max_wait": args.max_wait,
        },
    }


def load(argv: list[str] | None = None) -> Settings:
    """Parsed and validated settings; bad flags or configuration exit 2 with one line."""
    return settings_from_flags(build_parser(), argv, overrides_from_args)


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM (container preemption) and SIGINT finish the step, checkpoint, exit 0.
    A second one restores the default action, so the one after that ends a shutdown
    that is stuck (e.g. publishing to a store that is down) the usual way."""

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("%s again: the next one ends the trainer without a checkpoint", name)
            signal.signal(signum, signal.SIG_DFL)
            return
        log.info("%s: finishing the current step, then checkpointing", name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str] | None = None) -> int:
    settings = load(argv)
    configure_logging(settings.common.log_level)
    # Imported after validation: bad configuration fails fast, without loading torch.
    from cartridge.modelstore.base import ModelStoreConnectionError
    from cartridge.replay.base import ReplayConnectionError, ReplayUnavailableError
    from trainer.checkpoint import CheckpointMismatchError
    from trainer.device import DeviceUnavailableError
    from trainer.loop import train
    from trainer.waiting import ReplayWaitTimeoutError
    from trainer.wiring import trainer_inputs

    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        config_path = build_parser().parse_args(argv).config
        inputs = trainer_inputs(settings, config_path)
    except (ValueError, ModelStoreConnectionError) as err:
        # What the settings model cannot check alone: postgres_url, S3 credentials.
        log.error("%s", err)
        return EXIT_CONFIG
    try:
        train(inputs, stop)
    except ReplayUnavailableError as err:  # down for longer than the store retries
        log.error("%s", err)
        return EXIT_FAILED
    except (DeviceUnavailableError, CheckpointMismatchError, ReplayConnectionError) as err:
        log.error("%s", err)
        return EXIT_CONFIG
    except ReplayWaitTimeoutError as err:
        log.error("%s", err)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
