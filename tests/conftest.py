"""Test-wide set-up: Qt offscreen before any Qt import, and a private home for user data."""

from __future__ import annotations

import faulthandler
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Qt: no display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# User data, caches, settings and logs go to a throw-away folder, never the real home.
_HOME = Path(tempfile.mkdtemp(prefix="reelsmith-tests-"))
os.environ["REELSMITH_HOME"] = str(_HOME / "reelsmith")
for _var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
    os.environ[_var] = str(_HOME / _var.lower())

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _faulthandler_stays_on(request: pytest.FixtureRequest) -> Iterator[None]:
    """The studio's crash handler points faulthandler at its log file and turns it off when it
    is uninstalled (tests/gui/test_crash.py does both); pytest's own handler must come back, or a
    crash in any later test ends the run without a traceback."""
    yield
    if not faulthandler.is_enabled():
        from _pytest.faulthandler import fault_handler_stderr_fd_key

        fd = request.config.stash.get(fault_handler_stderr_fd_key, None)
        if fd is not None:
            faulthandler.enable(file=fd, all_threads=True)
