"""Packaging: the frozen entry point, and the installer icons made from the app icon."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
PACKAGING = ROOT / "packaging"


def _build_module():
    spec = importlib.util.spec_from_file_location("reelsmith_build", PACKAGING / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_entry_point_runs_the_cli():
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "launch.py"), "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reelsmith ")


def test_entry_point_calls_freeze_support_before_importing_the_app():
    tree = ast.parse((PACKAGING / "launch.py").read_text(encoding="utf-8"))
    main_block = next(node for node in tree.body if isinstance(node, ast.If))
    source = [ast.unparse(stmt) for stmt in main_block.body]
    assert source[0] == "multiprocessing.freeze_support()"
    assert any("from app.cli import main" in line for line in source[1:])


def test_installer_icons_are_made_in_every_platform_format(tmp_path, monkeypatch):
    build = _build_module()
    monkeypatch.setattr(build, "ICONS", tmp_path)
    build.icons()
    with Image.open(tmp_path / "reelsmith.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    with Image.open(tmp_path / "reelsmith.icns") as icns:
        assert icns.format == "ICNS"
    with Image.open(tmp_path / "reelsmith.png") as png:
        assert png.size == (512, 512) and png.mode == "RGBA"


def test_spec_bundles_resources_and_builds_both_executables():
    spec = (PACKAGING / "reelsmith.spec").read_text(encoding="utf-8")
    tree = ast.parse(spec)
    names = {
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "name" and isinstance(kw.value, ast.Constant)
    }
    assert {"Reelsmith", "reelsmith-cli", "Reelsmith.app"} <= names
    assert '(str(ROOT / "resources"), "resources")' in spec
    for folder in ("schema", "fonts", "examples", "icons"):
        assert (ROOT / "resources" / folder).is_dir()
