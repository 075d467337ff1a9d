"""The layer rules of architecture.md: import-linter contracts, plus the QtWidgets rule."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed"
    result = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def qtwidgets_importers(package_root: Path) -> list[str]:
    offenders = []
    for path in sorted(package_root.rglob("*.py")):
        relative = path.relative_to(package_root.parent)
        if relative.parts[:2] == ("app", "studio"):
            continue
        if any(name.startswith("PySide6.QtWidgets") for name in imported_modules(path)):
            offenders.append(str(relative))
    return offenders


def test_only_studio_imports_qtwidgets() -> None:
    assert qtwidgets_importers(ROOT / "app") == []


def test_the_qtwidgets_check_catches_an_offender(tmp_path: Path) -> None:
    (tmp_path / "app" / "render").mkdir(parents=True)
    (tmp_path / "app" / "studio").mkdir(parents=True)
    (tmp_path / "app" / "render" / "bad.py").write_text("from PySide6 import QtWidgets\n")
    (tmp_path / "app" / "studio" / "ok.py").write_text("from PySide6.QtWidgets import QWidget\n")
    assert qtwidgets_importers(tmp_path / "app") == ["app/render/bad.py"]
