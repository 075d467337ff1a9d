"""`reelsmith serve`: run the service in the foreground, or create an account.

The first line printed is the service URL (flushed at once, so a parent process can read it);
with `--port 0` it names the port the OS picked. Ctrl-C shuts down cleanly: requests in flight
finish, running jobs are failed and refunded as `jobs.py` documents, the database is closed.
The service's own messages (failed jobs, unexpected errors, event-loop stalls) go to stderr with
time and level, API keys redacted; uvicorn's access log goes to stdout after the first lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from app.paths import data_dir
from app.server.accounts import sketchpen_keys
from app.server.config import DEFAULT_HOST, DEFAULT_PORT, ServiceConfig
from app.server.store import Store


class ServeError(Exception):
    """A usage or start-up problem, worded for the command line."""


def default_data_dir() -> Path:
    """The service's folder inside the user data folder (honours REELSMITH_HOME)."""
    return data_dir() / "service"


def run(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    data: Path | None = None,
    stall_warning_ms: float = 100.0,
    out: TextIO = sys.stdout,
    err: TextIO | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code.

    `stall_warning_ms`: log a warning whenever the event loop could not run for longer than
    this (`stallwatch.py`); 0 turns the watch off."""
    from app.server.jobs import prepare_rendering
    from app.server.runner import bind_socket, make_server, url_of

    if not (math.isfinite(stall_warning_ms) and stall_warning_ms >= 0):
        raise ServeError(
            f"--stall-warning-ms must be 0 (off) or a positive number, not {stall_warning_ms:g}"
        )
    config = ServiceConfig(
        data_dir=data or default_data_dir(),
        host=host,
        port=port,
        stall_warning_seconds=stall_warning_ms / 1000.0 or None,
    )
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    logger = logging.getLogger("app")
    level = logger.level
    handler = _log_to(err or sys.stderr)
    try:
        from app.server.app import create_app

        prepare_rendering()
        app = create_app(config)
        server = make_server(app, log_level="info")
        print(url_of(sock), file=out, flush=True)
        print(f"data folder: {config.data_dir}", file=out, flush=True)
        # SIGTERM is a clean stop too (uvicorn handles both and finishes the lifespan).
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        # uvicorn re-raises the captured Ctrl-C after its clean shutdown: that is our exit.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
        logger.removeHandler(handler)
        logger.setLevel(level)
    return 0


class _LogFormatter(logging.Formatter):
    """Times as ISO 8601 with milliseconds and the UTC offset (2026-11-23T05:11:12.079+01:00):
    unambiguous when the clocks go back, and readable by `datetime.fromisoformat`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat("T", "milliseconds")


def _log_to(stream: TextIO) -> logging.Handler:
    """The `app` loggers (INFO and up) to `stream` with time and level, API keys redacted."""
    from app.redact import RedactingFilter

    handler = logging.StreamHandler(stream)
    handler.setFormatter(_LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def create_account(
    *,
    plan: str,
    credits: int,
    data: Path | None = None,
    rate_limit: int | None = None,
    concurrency: int | None = None,
    as_json: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Create an account and print its keys (the only time they are ever shown)."""
    folder = data or default_data_dir()
    store = Store(ServiceConfig(data_dir=folder).db_path)
    try:
        account = store.create_account(
            plan, credits, rate_limit=rate_limit, concurrency_limit=concurrency
        )
        shown = {**account.as_dict(), **sketchpen_keys(store, account)}
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(shown), file=out, flush=True)
    else:
        for name, value in shown.items():
            print(f"{name}: {value}", file=out)
        print("Keep the keys safe: they are stored hashed and cannot be shown again.", file=out)
    return 0


__all__ = ["ServeError", "create_account", "default_data_dir", "run"]
