"""The studio's settings file: one INI file in the user config folder (never API keys).

An explicit INI path (rather than Qt's per-platform default) keeps settings under
`REELSMITH_HOME` in tests and portable installs, and readable by a human on every platform.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.paths import config_dir

#: Seconds between recovery copies while the document has unsaved changes.
DEFAULT_AUTOSAVE_SECONDS = 5.0


def settings_path() -> Path:
    return config_dir() / "studio.ini"


def studio_settings(path: Path | None = None) -> QSettings:
    """The settings store (a fresh handle on the same file each call)."""
    return QSettings(str(path or settings_path()), QSettings.Format.IniFormat)


def autosave_seconds(settings: QSettings) -> float:
    """`[recovery] autosave_seconds` (1 s … 10 min); the default when missing or not a number."""
    raw = settings.value("recovery/autosave_seconds", DEFAULT_AUTOSAVE_SECONDS)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_AUTOSAVE_SECONDS
    if value != value:  # NaN
        return DEFAULT_AUTOSAVE_SECONDS
    return min(600.0, max(0.05, value))
