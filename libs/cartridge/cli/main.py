"""`cartridge <command>`: entry point that dispatches to one module per subcommand.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs, so `cartridge move` never
imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cartridge.config.entry import configure_logging

# command -> (module, one-line help)
COMMANDS = {
    "check": ("cartridge.cli.check", "integrity checks: perft, game counts, encoders, symmetries"),
    "move": ("cartridge.cli.move", "the agent's move (and value, visits) for positions"),
    "models": ("cartridge.cli.models", "model store: list versions, pointers, download, promote"),
    "ratings": ("cartridge.cli.ratings", "the arena's ratings, benchmarks and best version"),
    "run": ("cartridge.cli.run", "train locally: a trainer and actors on ./data, live progress"),
    "runs": ("cartridge.cli.runs", "local runs: list them with their state, stop one"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="cartridge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    configure_logging()
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
