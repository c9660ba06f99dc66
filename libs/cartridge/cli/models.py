"""`cartridge models`: inspect the model store ([storage] picks filesystem or S3).

    cartridge models list                      versions: step, time, sizes, sha256
    cartridge models pointers                  where latest and best point
    cartridge models download VERSION OUT      VERSION: a number, latest or best
              [--what onnx|checkpoint|meta]
    cartridge models promote VERSION           point best at VERSION
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from cartridge.config import SettingsError, load_settings
from cartridge.config.entry import apply_log_level
from cartridge.modelstore import ModelStore, ModelStoreError
from cartridge.modelstore.base import CorruptModelError
from cartridge.modelstore.factory import open_model_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    parser.add_argument("--env", default=None, help="game id (default: [common] env_id)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="stored versions with step, time, sizes and sha256")
    actions.add_parser("pointers", help="the versions latest and best name")
    download = actions.add_parser("download", help="write one version's file to a path")
    download.add_argument("version", help="version number, latest or best")
    download.add_argument("out", type=Path, help="file to write")
    download.add_argument("--what", choices=("onnx", "checkpoint", "meta"), default="onnx")
    promote = actions.add_parser("promote", help="point best at a version")
    promote.add_argument("version", type=int)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, overrides={"common": {"env_id": args.env}})
        apply_log_level(settings)
        store = open_model_store(settings)
        return _ACTIONS[args.action](store, args)
    except (SettingsError, ModelStoreError, CorruptModelError, ValueError) as err:
        log.error("%s", err)
        return 1


def _list(store: ModelStore, args: argparse.Namespace) -> int:
    marks = _pointer_marks(store)
    print(f"{'version':>8} {'step':>9}  {'created (UTC)':<19} {'onnx':>10} {'checkpoint':>11}"
          f"  {'sha256':<12}  pointers")
    for version in store.versions():
        try:
            info = store.info(version)
        except CorruptModelError as err:
            print(f"{version:>8}  unreadable: {err}")
            continue
        created = datetime.fromtimestamp(info.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{version:>8} {info.step:>9}  {created:<19} {info.onnx_bytes:>10} "
              f"{info.checkpoint_bytes:>11}  {info.sha256[:12]:<12}  {marks.get(version, '')}")
    return 0


def _pointers(store: ModelStore, args: argparse.Namespace) -> int:
    for name in ("latest", "best"):
        version = store.pointer(name)
        print(f"{name:<6} {'-' if version is None else version}")
    return 0


def _download(store: ModelStore, args: argparse.Namespace) -> int:
    version = _resolve(store, args.version)
    if args.what == "onnx":
        data = store.load_onnx(version)
    elif args.what == "checkpoint":
        data = store.load_checkpoint(version)
    else:
        data = (json.dumps(store.info(version).to_json(), indent=2) + "\n").encode()
    args.out.write_bytes(data)
    log.info("wrote %s of version %d (%d bytes, sha256 verified) to %s",
             args.what, version, len(data), args.out)
    return 0


def _promote(store: ModelStore, args: argparse.Namespace) -> int:
    store.promote(args.version)
    log.info("best now points at version %d", args.version)
    return 0


def _resolve(store: ModelStore, name: str) -> int:
    if name in ("latest", "best"):
        version = store.pointer(name)
        if version is None:
            raise ValueError(f"the store has no {name} pointer yet")
        return version
    if not name.isdigit():
        raise ValueError(f"version must be a number, latest or best, not {name!r}")
    return int(name)


def _pointer_marks(store: ModelStore) -> dict[int, str]:
    marks: dict[int, list[str]] = {}
    for name in ("latest", "best"):
        version = store.pointer(name)
        if version is not None:
            marks.setdefault(version, []).append(name)
    return {version: ",".join(names) for version, names in marks.items()}


_ACTIONS = {"list": _list, "pointers": _pointers, "download": _download, "promote": _promote}
