"""Fixtures for the trainer tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CARTRIDGE_* variables from the outside world."""
    for name in list(os.environ):
        if name.startswith("CARTRIDGE_"):
            monkeypatch.delenv(name)
