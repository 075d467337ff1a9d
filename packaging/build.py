"""Build Reelsmith for distribution: icons → PyInstaller folder → smoke test → installer.

    python packaging/build.py                 # dist/Reelsmith/ (+ smoke test)
    python packaging/build.py --installer     # and the platform's installer:
                                              #   Windows: dist/Reelsmith-<v>-windows-x64-setup.exe
                                              #   macOS:   dist/Reelsmith-<v>-macos.dmg
                                              #   Linux:   dist/Reelsmith-<v>-linux-x86_64.tar.gz

Needs the packaging extra (`pip install -e .[package]`); the Windows installer needs Inno
Setup's `iscc` on PATH. Each step prints what it runs; any failure stops the build with the
failing command's exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
BUILD = PACKAGING / "build"
DIST = ROOT / "dist"
ICONS = BUILD / "icons"
ICON_GLYPH = "mdi6.movie-open-play"
#: The app icon (window icon too), committed; `--draw-icon` redraws it.
APP_ICON = ROOT / "resources" / "icons" / "reelsmith.png"


def version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "app" / "__init__.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT, env=env)


def draw_icon() -> None:
    """Redraw the app icon: a Material Design glyph (qtawesome) on a rounded gradient tile."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qtawesome
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPainterPath
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    size = 1024
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    tile = QPainterPath()
    margin = size * 0.06
    tile.addRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), 190, 190)
    gradient = QLinearGradient(0, 0, size, size)
    gradient.setColorAt(0, QColor("#ff7a45"))
    gradient.setColorAt(1, QColor("#c2185b"))
    painter.fillPath(tile, gradient)
    glyph = qtawesome.icon(ICON_GLYPH, color="white").pixmap(int(size * 0.62))
    offset = int((size - glyph.width()) / 2)
    painter.drawPixmap(offset, offset, glyph)
    painter.end()
    APP_ICON.parent.mkdir(parents=True, exist_ok=True)
    if not image.scaled(512, 512, mode=Qt.TransformationMode.SmoothTransformation).save(
        str(APP_ICON)
    ):
        raise SystemExit(f"could not write {APP_ICON}")
    print(f"drew {APP_ICON}")


def icons() -> None:
    """The app icon in each platform's format (.ico for Windows, .icns for macOS)."""
    from PIL import Image

    ICONS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(APP_ICON, ICONS / "reelsmith.png")
    with Image.open(APP_ICON) as picture:
        sizes = [(side, side) for side in (16, 24, 32, 48, 64, 128, 256)]
        picture.save(ICONS / "reelsmith.ico", sizes=sizes)
        picture.save(ICONS / "reelsmith.icns")
    print(f"icons: {', '.join(sorted(p.name for p in ICONS.iterdir()))}")


def pyinstaller() -> Path:
    run(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        DIST,
        "--workpath",
        BUILD / "pyinstaller",
        PACKAGING / "reelsmith.spec",
    )
    folder = DIST / "Reelsmith"
    if not folder.is_dir():
        raise SystemExit(f"PyInstaller did not produce {folder}")
    return folder


def smoke(folder: Path) -> None:
    """The frozen CLI starts, finds its bundled resources, and renders with worker processes."""
    exe = folder / ("reelsmith-cli.exe" if sys.platform == "win32" else "reelsmith-cli")
    with tempfile.TemporaryDirectory(prefix="reelsmith-smoke-") as tmp:
        env = dict(os.environ, REELSMITH_HOME=str(Path(tmp) / "home"), QT_QPA_PLATFORM="offscreen")
        run(exe, "--version", env=env)
        run(exe, "schema", env=env)
        script = Path(tmp) / "smoke.json"
        script.write_text(
            json.dumps(
                {
                    "width": 320,
                    "height": 180,
                    "fps": 10,
                    "scenes": [
                        {"duration": 1, "elements": [{"type": "text", "text": "Smoke"}]},
                        {"duration": 1, "background": "#204080"},
                    ],
                }
            ),
            encoding="utf-8",
        )
        run(exe, "validate", script, env=env)
        out = Path(tmp) / "smoke.mp4"
        run(exe, "render", script, "-o", out, "--jobs", "2", env=env)
        if not out.is_file() or out.stat().st_size == 0:
            raise SystemExit("the frozen render produced no video")
    print("smoke test passed")


def installer(folder: Path, ver: str) -> Path:
    system = platform.system()
    if system == "Windows":
        iscc = shutil.which("iscc") or shutil.which("ISCC")
        if not iscc:
            raise SystemExit("Inno Setup's iscc is not on PATH (https://jrsoftware.org/isinfo.php)")
        run(
            iscc,
            f"/DAppVersion={ver}",
            f"/DSourceDir={folder}",
            f"/DOutputDir={DIST}",
            PACKAGING / "windows" / "reelsmith.iss",
        )
        return DIST / f"Reelsmith-{ver}-windows-x64-setup.exe"
    if system == "Darwin":
        dmg = DIST / f"Reelsmith-{ver}-macos.dmg"
        run(
            sys.executable,
            "-m",
            "dmgbuild",
            "-s",
            PACKAGING / "macos" / "dmg_settings.py",
            "-D",
            f"app={DIST / 'Reelsmith.app'}",
            "-D",
            f"icon={ICONS / 'reelsmith.icns'}",
            "Reelsmith",
            dmg,
        )
        return dmg
    archive = DIST / f"Reelsmith-{ver}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=f"Reelsmith-{ver}")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", action="store_true", help="also build the installer")
    parser.add_argument("--no-smoke", action="store_true", help="skip the frozen smoke test")
    parser.add_argument("--draw-icon", action="store_true", help=f"redraw {APP_ICON.name} only")
    args = parser.parse_args(argv)
    if args.draw_icon:
        draw_icon()
        return 0
    ver = version()
    icons()
    folder = pyinstaller()
    if not args.no_smoke:
        smoke(folder)
    if args.installer:
        print(f"installer: {installer(folder, ver)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
