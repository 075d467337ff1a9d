"""Start the studio: logging, the error route, Qt with asyncio (qasync), the window, the service.

`run_studio()` is what `reelsmith` (no arguments) and `reelsmith studio FILE` run. The window is
shown first; the local reference service starts right after the first paint, so a slow or
failing service never delays or breaks the studio (its state shows in the status bar).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.paths import log_dir

log = logging.getLogger("app.studio")

LOG_FILE = "studio.log"
#: The embedded service logs event-loop stalls longer than this (see `server/stallwatch.py`).
EMBEDDED_STALL_WARNING_SECONDS = 1.0


def setup_logging(folder: Path | None = None) -> Path:
    """Log to `<logs>/studio.log` (rotated) and warnings to stderr; API keys are redacted."""
    from app.service.keys import install_log_redaction

    folder = folder or log_dir()
    path = folder / LOG_FILE
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )
        root.addHandler(handler)
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(logging.Formatter("reelsmith: %(levelname)s: %(message)s"))
        root.addHandler(console)
        root.setLevel(logging.INFO)
    install_log_redaction(root)
    return path


class LocalService:
    """The embedded local reference service: started after the window shows, stopped on quit.

    Its default account's keys are moved into the keyring on the first start
    (`adopt_default_account`); a machine without a keyring gets an explanation, not a crash."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port
        self.thread: Any = None
        self.url: str | None = None
        self.text = "Local service: not started"
        self.tooltip = ""
        self.ok = False

    def start(self) -> None:
        try:
            self._start()
        except Exception as exc:  # the studio works without it
            log.exception("the local service did not start")
            self.text = "Local service: not running"
            self.tooltip = (
                f"The local render service could not start: {exc}\n"
                "Editing, preview and local renders work without it. Details are in the log."
            )
            self.ok = False

    def _start(self) -> None:
        from app.server.config import DEFAULT_HOST, DEFAULT_PORT, ServiceConfig
        from app.server.runner import ServiceThread, bind_socket
        from app.server.serve import default_data_dir

        port = DEFAULT_PORT if self.port is None else self.port
        # The service shares this process (and its GIL) with the GUI, whose own long steps
        # (opening a large file, building thumbnails) would read as stalls at the 0.1 s default.
        config = ServiceConfig(
            data_dir=default_data_dir(),
            host=DEFAULT_HOST,
            port=port,
            stall_warning_seconds=EMBEDDED_STALL_WARNING_SECONDS,
        )
        if port:
            try:  # never open the database twice: another studio may already serve it
                bind_socket(DEFAULT_HOST, port).close()
            except OSError:
                self._port_taken(port)
                return
        self.thread = ServiceThread(config).start()
        self.url = self.thread.url
        self.ok = True
        self.text = f"Local service: {self.url}"
        self.tooltip = f"The local render service runs here.\nData folder: {config.data_dir}"
        self._adopt_keys(config.default_account_file)

    def _port_taken(self, port: int) -> None:
        import httpx

        url = f"http://127.0.0.1:{port}"
        try:
            answer = httpx.get(f"{url}/api/render/schema", timeout=1.0)
            ours = answer.status_code == 200
        except httpx.HTTPError:
            ours = False
        if ours:
            self.url = url
            self.ok = True
            self.text = f"Local service: {url}"
            self.tooltip = "The local render service is already running (another Reelsmith)."
        else:
            self.text = "Local service: not running"
            self.tooltip = f"Port {port} is used by another program, so the service did not start."
            self.ok = False
        log.info("port %s taken; shared service: %s", port, ours)

    def _adopt_keys(self, keys_file: Path) -> None:
        from app.service.keys import KeyringUnavailable, adopt_default_account

        assert self.url is not None
        try:
            if adopt_default_account(keys_file, self.url):
                log.info("the local service's default account keys are now in the keyring")
        except KeyringUnavailable as exc:
            log.info("keys not moved to the keyring: %s", exc.message)
            self.text += " · API keys: no keyring"
            self.tooltip += (
                f"\n\n{exc.message}\nThe local account's keys stay in {keys_file} "
                "(readable only by you) until a keyring is available."
            )
        except ValueError as exc:
            log.warning("%s", exc)
            self.tooltip += f"\n\n{exc}"

    def stop(self) -> None:
        if self.thread is not None:
            try:
                self.thread.stop(timeout=10.0)
            except Exception:
                log.exception("the local service did not stop cleanly")
            self.thread = None


def _no_display() -> bool:
    """On Linux without X11/Wayland and no explicit Qt platform, Qt would abort the process."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _import_service_modules() -> None:
    import importlib

    for name in ("app.server.config", "app.server.serve", "app.server.app", "app.server.runner"):
        importlib.import_module(name)


def tune_garbage_collector() -> None:
    """Once the studio is up: move everything alive into the permanent generation and collect
    the young ones less often. With Python's defaults, the allocation bursts of re-parsing a
    1 MB script trigger full collections of 50–140 ms in the middle of typing (measured by
    tests/bench/bench_json_editor.py); after this, full collections stay rare and short."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _install_signal_handlers(window: Any) -> QTimer:
    """Ctrl-C closes the window (asking about unsaved work); SIGTERM keeps a recovery copy and
    quits at once (a session ending must not wait for a question)."""

    def interrupt(*_: object) -> None:
        QTimer.singleShot(0, window.close)

    def terminate(*_: object) -> None:
        def quit_now() -> None:
            with contextlib.suppress(Exception):
                window.autosaver.write_now()
            window.quit_without_asking()

        QTimer.singleShot(0, quit_now)

    signal.signal(signal.SIGINT, interrupt)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGTERM, terminate)
    # Python runs signal handlers only between bytecodes: wake it up now and then.
    ticker = QTimer()
    ticker.start(250)
    ticker.timeout.connect(lambda: None)
    return ticker


def run_studio(
    path: Path | str | None = None,
    *,
    start_service: bool = True,
    on_ready: Callable[[Any], None] | None = None,
    argv: list[str] | None = None,
) -> int:
    """Open the studio (with `path`, or the welcome example) and run until it closes.

    `on_ready(window)` runs once the window is shown and the start-up offers are made (the
    benchmark and the crash-recovery test drive the real studio through it)."""
    import qasync

    from app.studio.collector import GuiThreadCollector
    from app.studio.crash import ErrorReporter, previous_fatal_error
    from app.studio.recovery import RecoveryStore
    from app.studio.settings import studio_settings
    from app.studio.tasks import TaskRunner
    from app.studio.window import MainWindow, apply_appearance, example_scripts

    if _no_display():
        print(
            "reelsmith: the studio needs a display (DISPLAY or WAYLAND_DISPLAY is not set). "
            "The command line works without one: reelsmith --help",
            file=sys.stderr,
        )
        return 2
    try:
        log_path = setup_logging()
    except OSError as exc:  # an unwritable log folder must not stop the studio
        import tempfile

        print(f"reelsmith: cannot write logs to the log folder ({exc}); using a temp folder")
        log_path = setup_logging(Path(tempfile.mkdtemp(prefix="reelsmith-logs-")))
    log.info("studio starting (file: %s)", path)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else None
    if app is None:
        QApplication.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
        app = QApplication(argv or [sys.argv[0]])
    app.setApplicationName("Reelsmith")
    app.setApplicationDisplayName("Reelsmith")
    app.setDesktopFileName("reelsmith")
    # Cycles are collected here, never on a worker thread (it would destroy Qt objects there).
    collector = GuiThreadCollector(parent=app)
    collector.start()

    fatal = previous_fatal_error(log_path.parent)
    reporter = ErrorReporter(log_path.parent)
    reporter.install()
    settings = studio_settings()
    apply_appearance(app, str(settings.value("view/appearance", "system")))

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(reporter.asyncio_handler)

    try:
        recovery = RecoveryStore()
        recovery_problem = ""
    except OSError as exc:  # keep working; say so where the user looks
        import tempfile

        log.error("recovery folder unusable: %s", exc)
        recovery = RecoveryStore(Path(tempfile.mkdtemp(prefix="reelsmith-recovery-")))
        recovery_problem = f"Recovery copies go to {recovery.folder} this time: {exc}"
    window = MainWindow(settings=settings, recovery=recovery)
    reporter.parent_widget = window
    reporter.before_dialog.append(window.keep_work_after_error)

    requested = Path(path).expanduser() if path is not None else None
    if requested is not None and requested.is_file():
        window.load_path(requested)
    else:
        welcome = dict((p.stem, p) for _t, p in example_scripts()).get("slideshow")
        if welcome is not None:
            window.new_from_example(welcome)

    service = LocalService()
    preload = TaskRunner(max_workers=1, name="reelsmith-preload")

    def after_first_paint() -> None:
        log.info("window shown: %s", window.windowTitle().replace("[*]", ""))
        if requested is not None and not requested.is_file():
            window.load_path(requested, create_missing=True)
        if recovery_problem:
            window.show_message(recovery_problem, 0)
        if fatal is not None:
            window.show_message(
                f"Reelsmith stopped unexpectedly last time; the report is in {fatal}", 0
            )
        window.offer_recovery()
        if start_service:
            window.set_service_status("Local service: starting…")
            # Import the server's modules (Starlette, uvicorn: ~0.15 s) on a worker, then build
            # and start it here on the main thread, as `ServiceThread` requires.
            preload.run(_import_service_modules, done=lambda _r, _e: start_local_service())
        else:
            window.set_service_status("Local service: off", ok=True)
        # After the first paint and the start-up work, while the user looks at the window.
        QTimer.singleShot(300, tune_garbage_collector)
        if on_ready is not None:
            on_ready(window)

    def start_local_service() -> None:
        service.start()
        window.set_service_status(service.text, service.tooltip, service.ok)

    window.first_painted.connect(lambda: QTimer.singleShot(0, after_first_paint))
    ticker = _install_signal_handlers(window)
    window.show()

    try:
        with loop:
            loop.run_forever()
    finally:
        ticker.stop()
        preload.shutdown(wait=True)
        service.stop()
        recovery.close()
        reporter.uninstall()
        collector.stop()
        log.info("studio closed")
    return 0
