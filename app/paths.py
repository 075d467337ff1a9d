"""Where Reelsmith keeps its files: user data, cache, logs, and the bundled resources.

Everything goes through platformdirs, except when `REELSMITH_HOME` is set (tests, portable
installs): then data, cache, config and logs all live below that one folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Reelsmith"


def _home_override() -> Path | None:
    value = os.environ.get("REELSMITH_HOME")
    return Path(value) if value else None


def _dir(kind: str) -> Path:
    home = _home_override()
    if home is not None:
        path = home / kind
    else:
        getter = {
            "data": platformdirs.user_data_path,
            "cache": platformdirs.user_cache_path,
            "config": platformdirs.user_config_path,
            "logs": platformdirs.user_log_path,
        }[kind]
        path = getter(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Persistent user data (recovery copies, the local service's database)."""
    return _dir("data")


def cache_dir() -> Path:
    """Disposable caches (downloaded media, fetched schemas)."""
    return _dir("cache")


def config_dir() -> Path:
    """Settings (never API keys: those live in the OS keyring)."""
    return _dir("config")


def log_dir() -> Path:
    return _dir("logs")


def resources_dir() -> Path:
    """The bundled resources folder (schema, fonts, icons, examples).

    In a source checkout it sits beside `app/`; in a PyInstaller bundle, under `sys._MEIPASS`.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
