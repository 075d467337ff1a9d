"""One route for every unexpected error: a dialog that keeps the user's work, never a silent death.

`ErrorReporter.install()` takes over `sys.excepthook` (exceptions in slots and event handlers
land there in PySide6), `threading.excepthook` (worker threads), and asyncio's exception handler
(qasync tasks); `faulthandler` writes fatal crashes (segfaults, aborts) into the log folder. Every
error is logged with its traceback; on the GUI thread the `before_dialog` callbacks run first (the
window writes a recovery copy at once) and then `ErrorDialog` shows the message with
"Copy details" and "Show details". Errors that arrive while the dialog is open are added to it
instead of stacking dialogs.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger("app.studio.crash")

FAULT_LOG = "fatal-errors.log"


def versions() -> str:
    """Versions worth knowing in a bug report."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    from app import __version__

    return (
        f"Reelsmith {__version__}; Python {platform.python_version()}; "
        f"PySide6 {pyside_version} (Qt {qVersion()}); {platform.platform()}"
    )


def format_details(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str = ""
) -> str:
    lines = traceback.format_exception(exc_type, exc, tb)
    head = f"Unexpected error{f' in {where}' if where else ''}: {exc_type.__name__}: {exc}"
    return f"{head}\n\n{''.join(lines).rstrip()}\n\n{versions()}\n"


def _summary(exc_type: type[BaseException], exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc_type.__name__}: {text}" if text else exc_type.__name__


class ErrorReporter(QObject):
    """Collects unexpected errors from any thread and shows them on the GUI thread."""

    #: summary, details: emitted for every unexpected error (queued to the GUI thread).
    error = Signal(str, str)

    def __init__(self, log_folder: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_folder = log_folder
        #: Called on the GUI thread before the dialog shows; each returns a sentence for the
        #: dialog (e.g. "A recovery copy of your edits was saved.") or None.
        self.before_dialog: list[Callable[[], str | None]] = []
        self.parent_widget: QWidget | None = None
        self.dialog: ErrorDialog | None = None
        self.show_dialogs = True
        self._previous: tuple[Any, Any] | None = None
        self._fault_file: TextIO | None = None
        self._reporting = threading.local()
        self.error.connect(self._show, Qt.ConnectionType.QueuedConnection)

    # ----------------------------------------------------------------------------- hooks

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        if self.log_folder is not None:
            with contextlib.suppress(OSError):
                self.log_folder.mkdir(parents=True, exist_ok=True)
                self._fault_file = open(self.log_folder / FAULT_LOG, "a", encoding="utf-8")  # noqa: SIM115
                faulthandler.enable(self._fault_file, all_threads=True)

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None
        if self._fault_file is not None:
            faulthandler.disable()
            self._fault_file.close()
            self._fault_file = None

    def asyncio_handler(self, loop: Any, context: dict[str, Any]) -> None:
        """For `loop.set_exception_handler`: errors of asyncio tasks and callbacks."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.report(type(exc), exc, exc.__traceback__, "a background task")
        else:
            log.error("asyncio: %s", context.get("message"))

    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            from PySide6.QtWidgets import QApplication

            QTimer.singleShot(0, QApplication.closeAllWindows)
            return
        self.report(exc_type, exc, tb)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread else "a worker thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        where: str = "",
    ) -> None:
        """Log the error and show it (from any thread; never raises)."""
        if getattr(self._reporting, "active", False):  # an error while reporting an error
            return
        self._reporting.active = True
        details = ""
        try:
            details = format_details(exc_type, exc, tb, where)
            log.error("%s", details.rstrip())
            self.error.emit(_summary(exc_type, exc), details)
        except BaseException:  # the last line of defence must not raise
            with contextlib.suppress(BaseException):
                stream = sys.__stderr__
                if stream is not None:
                    stream.write(details or f"{exc_type.__name__}: {exc}\n")
        finally:
            self._reporting.active = False

    # ----------------------------------------------------------------------------- dialog

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        notes: list[str] = []
        for callback in self.before_dialog:
            try:
                note = callback()
            except Exception:
                log.exception("while keeping the user's work after an error")
                note = None
            if note:
                notes.append(note)
        if not self.show_dialogs:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add_error(summary, details)
            return
        self.dialog = ErrorDialog(summary, details, " ".join(notes), self.parent_widget)
        self.dialog.show()
        self.dialog.raise_()


class ErrorDialog(QDialog):
    """ "Something went wrong" with the message, what was kept, and the details on request."""

    def __init__(self, summary: str, details: str, note: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unexpected error — Reelsmith")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)
        self._details = details
        self._count = 1

        import qtawesome

        icon = QLabel()
        icon.setPixmap(qtawesome.icon("mdi6.alert-circle-outline", color="#d9822b").pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._summary = summary
        self._note = note or "Your document is still open."
        self._update_message()

        self.details_view = QPlainTextEdit(details)
        self.details_view.setReadOnly(True)
        self.details_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_view.setMinimumHeight(220)
        self.details_view.setVisible(False)

        buttons = QDialogButtonBox()
        self.copy_button = QPushButton(qtawesome.icon("mdi6.content-copy"), "Copy details")
        self.show_button = QPushButton("Show details")
        self.show_button.setCheckable(True)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.show_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setDefault(True)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self.copy_details)
        self.show_button.toggled.connect(self._toggle_details)

        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details_view, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def _update_message(self) -> None:
        more = f"<p>{self._count - 1} more error(s) happened since.</p>" if self._count > 1 else ""
        from html import escape

        self.message.setText(
            "<p><b>Something went wrong, but Reelsmith is still running.</b></p>"
            f"<p>{escape(self._summary)}</p><p>{escape(self._note)} You can keep working; "
            "saving soon is a good idea. “Copy details” copies what a bug report needs.</p>"
            f"{more}"
        )

    @property
    def details(self) -> str:
        return self._details

    def add_error(self, summary: str, details: str) -> None:
        self._count += 1
        self._details += "\n" + "-" * 60 + "\n" + details
        self.details_view.setPlainText(self._details)
        self._update_message()

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self._details)
        self.copy_button.setText("Copied")

    def _toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.show_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()


def previous_fatal_error(log_folder: Path) -> Path | None:
    """A fatal-error report left by an earlier run (faulthandler output), moved aside so it is
    reported once; None when the last runs ended without one."""
    current = log_folder / FAULT_LOG
    try:
        if current.stat().st_size == 0:
            return None
    except OSError:
        return None
    from datetime import datetime

    kept = log_folder / f"fatal-error-{datetime.now():%Y%m%d-%H%M%S}.log"
    try:
        current.replace(kept)
    except OSError:
        return None
    return kept
