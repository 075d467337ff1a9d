"""Test-wide set-up: Qt offscreen before any Qt import, and a private home for user data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports Qt: no display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# User data, caches, settings and logs go to a throw-away folder, never the real home.
_HOME = Path(tempfile.mkdtemp(prefix="reelsmith-tests-"))
os.environ["REELSMITH_HOME"] = str(_HOME / "reelsmith")
for _var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
    os.environ[_var] = str(_HOME / _var.lower())

ROOT = Path(__file__).resolve().parent.parent
