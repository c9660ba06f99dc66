"""`python -m web`: flags -> settings -> resources -> app -> uvicorn.

Exit codes: 0 stopped (SIGTERM/SIGINT), 2 bad configuration or flags.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from cartridge.config.entry import EXIT_CONFIG, configure_logging, settings_from_flags

log = logging.getLogger("web")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m web",
                                     description="Cartridge web: play the trained models.")
    parser.add_argument("--config", type=Path,
                        help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    parser.add_argument("--host", help="[web] host: address to serve on")
    parser.add_argument("--port", type=int, help="[web] port (0 = any free port)")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {"web": {"host": args.host, "port": args.port}}


def main(argv: list[str] | None = None) -> int:
    settings = settings_from_flags(build_parser(), argv, overrides_from_args)
    configure_logging(settings.common.log_level)
    import uvicorn

    from cartridge.modelstore.base import ModelStoreConnectionError
    from web.app import create_app
    from web.resources import web_resources

    try:
        resources = web_resources(settings)
    except (ValueError, ModelStoreConnectionError) as err:
        log.error("%s", err)
        return EXIT_CONFIG
    web = settings.web
    log.info("play page: http://%s:%d/ (API docs at /docs)", web.host, web.port)
    server = uvicorn.Server(uvicorn.Config(
        create_app(resources), host=web.host, port=web.port,
        log_level=settings.common.log_level.lower(), access_log=False, log_config=None))
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
