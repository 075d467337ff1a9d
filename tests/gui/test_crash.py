"""The error route: an unexpected error shows a dialog, keeps the document and writes a recovery
copy; the studio keeps running."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from app.studio.crash import FAULT_LOG, ErrorReporter, previous_fatal_error
from app.studio.recovery import RecoveryStore
from app.studio.window import MainWindow

pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def window(qtbot, tmp_path: Path):
    store = RecoveryStore(tmp_path / "recovery")
    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, recovery=store, panels=())
    win.show()
    yield win
    win.quit_without_asking()
    store.close()


@pytest.fixture
def reporter(window: MainWindow, tmp_path: Path):
    errors = ErrorReporter(tmp_path / "logs")
    errors.parent_widget = window
    errors.before_dialog.append(window.keep_work_after_error)
    errors.install()
    yield errors
    errors.uninstall()
    if errors.dialog is not None:
        errors.dialog.close()


def _raise_in_a_slot(qtbot, message: str) -> QPushButton:
    button = QPushButton("Go")
    qtbot.addWidget(button)

    def slot() -> None:
        raise ValueError(message)

    button.clicked.connect(slot)
    button.click()
    return button


def test_an_error_in_a_slot_shows_a_dialog_and_keeps_the_document(
    qtbot, window: MainWindow, reporter: ErrorReporter
) -> None:
    window.document.set_value(("scenes", 0, "name"), "Unsaved work")
    text = window.document.text
    _raise_in_a_slot(qtbot, "boom in a slot")
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
    dialog = reporter.dialog
    assert dialog is not None
    assert "ValueError: boom in a slot" in dialog.message.text()
    assert "recovery copy was saved" in dialog.message.text()
    assert window.isVisible()
    assert window.document.text == text and window.document.is_modified
    copy = window.recovery.folder / f"{window.recovery.session}-doc.json"
    assert copy.read_text() == text

    assert not dialog.details_view.isVisible()
    dialog.show_button.click()
    assert dialog.details_view.isVisible()
    dialog.copy_details()
    copied = QGuiApplication.clipboard().text()
    assert "Traceback" in copied and "ValueError: boom in a slot" in copied
    assert "PySide6" in copied and "Reelsmith" in copied


def test_errors_while_the_dialog_is_open_are_added_to_it(
    qtbot, window: MainWindow, reporter: ErrorReporter
) -> None:
    _raise_in_a_slot(qtbot, "first")
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    first = reporter.dialog
    _raise_in_a_slot(qtbot, "second")
    qtbot.waitUntil(lambda: first is not None and "second" in first.details)
    assert reporter.dialog is first
    assert "1 more error" in first.message.text()


def test_an_error_in_a_worker_thread_reaches_the_dialog(
    qtbot, window: MainWindow, reporter: ErrorReporter
) -> None:
    def work() -> None:
        raise RuntimeError("worker failed")

    thread = threading.Thread(target=work, name="test-worker")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
    assert reporter.dialog is not None
    assert "worker failed" in reporter.dialog.message.text()
    assert "thread test-worker" in reporter.dialog.details


def test_errors_are_logged_with_their_traceback(
    qtbot, window: MainWindow, reporter: ErrorReporter, caplog
) -> None:
    QTimer.singleShot(0, lambda: 1 / 0)
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert any("ZeroDivisionError" in r.getMessage() for r in caplog.records)


def test_a_fatal_error_report_from_the_last_run_is_found_once(tmp_path: Path) -> None:
    (tmp_path / FAULT_LOG).write_text("Fatal Python error: Segmentation fault\n")
    report = previous_fatal_error(tmp_path)
    assert report is not None and "Segmentation fault" in report.read_text()
    assert previous_fatal_error(tmp_path) is None


def test_the_studio_log_is_written_with_api_keys_redacted(tmp_path: Path) -> None:
    import logging

    from app.studio.main import setup_logging

    root = logging.getLogger()
    before = list(root.handlers)
    path = setup_logging(tmp_path)
    try:
        key = "ve_live_" + "0123456789abcdef" * 2
        logging.getLogger("app.studio.test").warning("request failed with key %s", key)
        for handler in root.handlers:
            handler.flush()
        text = path.read_text()
        assert "request failed with key" in text
        assert key not in text
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
