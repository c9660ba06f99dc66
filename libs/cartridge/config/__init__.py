"""Typed settings: config.toml < CARTRIDGE_<SECTION>_<KEY> environment < flags."""

from cartridge.config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
