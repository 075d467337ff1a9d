"""The bundled font family and the Qt set-up render workers need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QFont, QFontInfo, QGuiApplication

from app.render.fonts import (
    DEFAULT_FAMILY,
    FONT_FILES,
    ensure_qt,
    fonts_dir,
    known_font,
    resolve_family,
)

ROOT = Path(__file__).resolve().parents[3]


def test_bundled_fonts_ship_with_their_licence() -> None:
    folder = fonts_dir()
    assert folder == ROOT / "resources" / "fonts"
    for name in FONT_FILES:
        assert (folder / name).stat().st_size > 50_000
    assert "SIL OPEN FONT LICENSE" in (folder / "OFL.txt").read_text("utf-8")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 3_000_000


def test_ensure_qt_returns_one_gui_application() -> None:
    app = ensure_qt()
    assert isinstance(app, QGuiApplication)
    assert ensure_qt() is app


def test_bundled_family_has_all_four_faces() -> None:
    ensure_qt()
    for bold in (False, True):
        for italic in (False, True):
            font = QFont(DEFAULT_FAMILY)
            font.setBold(bold)
            font.setItalic(italic)
            info = QFontInfo(font)
            assert info.family() == DEFAULT_FAMILY
            assert info.bold() == bold and info.italic() == italic


def test_known_font_and_fallback() -> None:
    assert known_font(None)
    assert known_font(DEFAULT_FAMILY)
    assert not known_font("Definitely Not A Font 4711")
    assert resolve_family("Definitely Not A Font 4711") == DEFAULT_FAMILY
    assert resolve_family(None) == DEFAULT_FAMILY
    assert resolve_family(DEFAULT_FAMILY) == DEFAULT_FAMILY


def test_a_fresh_worker_process_renders_text_without_a_display() -> None:
    """What a render worker does: no QT_QPA_PLATFORM, no app; ensure_qt makes text work."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    code = (
        "from app.render.fonts import ensure_qt; app = ensure_qt();"
        "from app.render.text import measure_text;"
        "print(app.platformName(), measure_text('Hi there', 40, 1000, 1.2)[0] > 40)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["offscreen", "True"]
