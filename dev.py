#!/usr/bin/env python3
"""Developer entry point: the two quick-start commands of the README.

    python3 dev.py studio [ARGS...]   launch the studio (creates .venv on first use)
    python3 dev.py test [PYTEST ARGS] run lint, type checks and the whole test suite

It needs only a Python >= 3.12 somewhere on the machine (it looks for python3.12/3.13/...,
pyenv versions and the running interpreter), creates `.venv` with it and installs the project
in editable mode with its dev extras whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".reelsmith-install-stamp"
MIN = (3, 12)


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def find_python() -> str:
    """A Python >= 3.12 interpreter: this one, one on PATH, or one under pyenv."""
    if sys.version_info[:2] >= MIN:
        return sys.executable
    candidates: list[str] = []
    for minor in (12, 13, 14):
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv_root.is_dir():
        for version_dir in sorted(pyenv_root.iterdir(), reverse=True):
            exe = version_dir / "bin" / "python3"
            if exe.exists():
                candidates.append(str(exe))
    for cand in candidates:
        ver = _version_of(cand)
        if ver and ver >= MIN:
            return cand
    sys.exit(
        "Reelsmith needs Python 3.12 or newer (PySide6 6.12 crashes CPython 3.11). "
        "Install it (for example `pyenv install 3.12`) and run this command again."
    )


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    """Create .venv and (re)install the project when pyproject.toml changed."""
    py = venv_python()
    if py.exists() and (_version_of(str(py)) or (0, 0)) < MIN:
        shutil.rmtree(VENV)
    if not py.exists():
        print(f"Creating {VENV} ...", flush=True)
        subprocess.run([find_python(), "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print("Installing Reelsmith and its dependencies into .venv ...", flush=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-U", "pip"],
            check=True,
        )
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "-e",
                f"{ROOT}[dev]",
            ],
            check=True,
        )
        STAMP.write_text(digest)
    return py


def run(cmd: list[str]) -> int:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def cmd_test(args: list[str]) -> int:
    py = str(ensure_venv())
    for step in (
        [py, "-m", "ruff", "check", "app", "tests", "packaging", "dev.py"],
        [py, "-m", "ruff", "format", "--check", "app", "tests", "packaging", "dev.py"],
        [py, "-m", "mypy"],
    ):
        code = run(step)
        if code:
            return code
    return run([py, "-m", "pytest", *args])


def cmd_studio(args: list[str]) -> int:
    py = str(ensure_venv())
    return subprocess.run([py, "-m", "app", *args], cwd=ROOT).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"studio", "test", "venv"}:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "venv":
        print(ensure_venv())
        return 0
    return cmd_test(rest) if command == "test" else cmd_studio(rest)


if __name__ == "__main__":
    sys.exit(main())
