"""config.toml of a run: the settings it actually used (file, environment and flags
merged), secrets left out, written so that `load_settings` on it gives the same settings.

No TOML writer ships with Python; the settings hold only tables of strings, numbers,
booleans and paths, which `_value` writes (JSON's string and number forms are valid
TOML), and None, a key left out (as in [selfplay.<game>]), which is not written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from cartridge.config.settings import Settings

_HEADER = ("# The settings this run used (config file, CARTRIDGE_* environment and flags\n"
           "# merged), written by `cartridge run`. Secrets are left out: they still come\n"
           "# from the environment. `cartridge run --config` on this file reproduces the run.\n")


def resolved_toml(settings: Settings) -> str:
    lines = [_HEADER]
    for name in type(settings).model_fields:
        _table(lines, name, getattr(settings, name))
    return "\n".join(lines)


def _table(lines: list[str], name: str, section: BaseModel) -> None:
    scalars = {}
    nested = {}
    for key in type(section).model_fields:
        value = getattr(section, key)
        if isinstance(value, BaseModel):
            nested[key] = value
        elif value is None:
            continue  # a key left out (e.g. [selfplay.<game>]'s): absent, it loads as None
        elif not isinstance(value, SecretStr):
            scalars[key] = without_url_password(value) if key == "postgres_url" else value
    if scalars or not nested:
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in scalars.items())
        lines.append("")
    for key, value in nested.items():
        _table(lines, f"{name}.{key}", value)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"no TOML form for {type(value).__name__} {value!r}")


def settings_without_secrets(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-ready data, secrets left out (for model metadata)."""
    data = settings.model_dump(mode="json", exclude={"storage": {
        key for key, value in settings.storage if isinstance(value, SecretStr)}})
    storage = data["storage"]
    storage["postgres_url"] = without_url_password(storage["postgres_url"])
    return data


def without_url_password(url: str) -> str:
    """A PostgreSQL URL or key=value DSN with its password removed: one written into
    [storage] postgres_url (rather than CARTRIDGE_STORAGE_POSTGRES_PASSWORD) must not
    travel into a run's config.toml or a published model's metadata."""
    url = _DSN_PASSWORD.sub("", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


_DSN_PASSWORD = re.compile(r"(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
