"""Qt set-up for rendering and the bundled font family.

Text must look the same on every machine and in every render worker, so the renderer ships its
own sans family (Inter, SIL OFL 1.1, `resources/fonts/`) and registers it with Qt before laying
out any text. Qt only lets a process use fonts once a `QGuiApplication` exists; render workers
have no window, so `ensure_qt()` creates one on the `offscreen` platform when nobody else has.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFontDatabase, QGuiApplication

import app.render

#: The family name of the bundled font; scripts get it when `font_family` is null or unknown.
DEFAULT_FAMILY = "Inter"
#: The bundled faces: regular, bold, italic and bold italic.
FONT_FILES = ("Inter-Regular.otf", "Inter-Bold.otf", "Inter-Italic.otf", "Inter-BoldItalic.otf")

_lock = threading.Lock()
_app: QCoreApplication | None = None
_registered = False


def fonts_dir() -> Path:
    """Where the bundled fonts live: next to the repository's `app/`, or inside a frozen build."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources" / "fonts"
    return Path(app.render.__file__).resolve().parents[2] / "resources" / "fonts"


def ensure_qt() -> QCoreApplication:
    """Return the process's Qt application, creating an offscreen `QGuiApplication` if none exists,
    and register the bundled fonts.

    Call it once in each render worker process (the compositor also calls it, which is cheap once
    done). A studio process already has its `QApplication` and keeps it. The platform is only
    forced to `offscreen` when `QT_QPA_PLATFORM` is unset, so a developer's choice is respected.
    Raises RuntimeError when an application must be created off the main thread (Qt forbids it)
    or when a non-GUI `QCoreApplication` exists (it cannot render fonts).
    """
    global _app
    with _lock:
        instance = QCoreApplication.instance()
        if instance is None:
            if threading.current_thread() is not threading.main_thread():
                raise RuntimeError("ensure_qt() must first be called on the main thread")
            argv = [sys.argv[0] if sys.argv and sys.argv[0] else "reelsmith-render"]
            if not os.environ.get("QT_QPA_PLATFORM"):
                argv += ["-platform", "offscreen"]
            instance = QGuiApplication(argv)
            _app = instance  # keep a reference: the application must outlive every QPainter
        elif not isinstance(instance, QGuiApplication):
            raise RuntimeError("a QCoreApplication exists; fonts need a QGuiApplication")
        _register_fonts_locked()
        return instance


def _register_fonts_locked() -> None:
    global _registered
    if _registered:
        return
    folder = fonts_dir()
    missing = []
    for name in FONT_FILES:
        if QFontDatabase.addApplicationFont(str(folder / name)) < 0:
            missing.append(name)
    if missing:
        raise RuntimeError(f"bundled fonts could not be loaded from {folder}: {', '.join(missing)}")
    _registered = True


@lru_cache(maxsize=256)
def known_font(family: str | None) -> bool:
    """Whether text in `family` renders in that family (None means the bundled one).

    Lint and the CLI use this to warn about a `font_family` that will fall back to the bundled
    font, so the user learns before a render that their font is not installed here.
    """
    if family is None or family.strip() == "":
        return True
    ensure_qt()
    return bool(QFontDatabase.hasFamily(family.strip()))


def resolve_family(family: str | None) -> str:
    """The family text is actually drawn in: `family` when installed, else the bundled one."""
    if family is not None and known_font(family):
        return family.strip()
    return DEFAULT_FAMILY
