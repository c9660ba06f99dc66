"""`python -m web`: flags -> settings -> resources -> app -> uvicorn.

Exit codes: 0 stopped (SIGTERM/SIGINT), 2 bad configuration or flags.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from pathlib import Path
from typing import Any

from cartridge.atomic import write_text_atomic
from cartridge.config.entry import EXIT_CONFIG, configure_logging, settings_from_flags

log = logging.getLogger("web")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m web",
                                     description="Cartridge web: play the trained models.")
    parser.add_argument("--config", type=Path,
                        help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    parser.add_argument("--host", help="[web] host: address to serve on")
    parser.add_argument("--port", type=int, help="[web] port (0 = any free port)")
    parser.add_argument("--url-file", type=Path,
                        help="write the page's URL here once the port is bound (for "
                             "`cartridge run`, which prints it)")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {"web": {"host": args.host, "port": args.port}}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    settings = settings_from_flags(parser, argv, overrides_from_args)
    url_file = parser.parse_args(argv).url_file
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
    try:
        # Bound here, not by uvicorn, so the real port (also for port 0) is known first.
        listener = socket.create_server((web.host, web.port), reuse_port=False)
    except OSError as err:
        log.error("cannot serve on %s:%d ([web] host, port): %s", web.host, web.port, err)
        return EXIT_CONFIG
    url = f"http://{web.host}:{listener.getsockname()[1]}/"
    log.info("play page: %s (API docs at %sdocs)", url, url)
    if url_file is not None:
        write_text_atomic(url_file, url + "\n")
    server = uvicorn.Server(uvicorn.Config(
        create_app(resources), log_level=settings.common.log_level.lower(),
        access_log=False, log_config=None))
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again for the
    # handlers it found: these make that a no-op, so a requested stop exits 0 like the
    # other services.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    server.run(sockets=[listener])
    log.info("stopped")
    return 0

