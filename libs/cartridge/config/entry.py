"""What every entry point does first: parse flags into settings, fail fast, set up logging."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from cartridge.config.settings import Settings, SettingsError, load_settings

EXIT_CONFIG = 2  # bad flags or configuration (argparse uses 2 as well)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def settings_from_flags(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    overrides: Callable[[argparse.Namespace], dict[str, dict[str, Any]]],
) -> Settings:
    """Validated settings (file < environment < these flags); on a bad key or value,
    one line naming it and exit 2, before any work starts. The parser needs --config."""
    args = parser.parse_args(argv)
    try:
        return load_settings(args.config, overrides=overrides(args))
    except SettingsError as err:
        parser.exit(EXIT_CONFIG, f"{parser.prog}: error: {one_line(str(err))}\n")


def one_line(message: str) -> str:
    head, *details = message.splitlines()
    return " ".join([head, "; ".join(d.strip() for d in details)]).strip()


def configure_logging(level: str | int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


def apply_log_level(settings: Settings) -> None:
    """[common] log_level on the root logger, for commands that configure logging before
    they load settings (`cartridge` sets INFO first, so its own config errors show)."""
    logging.getLogger().setLevel(settings.common.log_level)
