"""Recovery copies: what the user has not saved yet, written aside every few seconds.

While a document has unsaved changes, `Autosaver` writes its text atomically into
`<data>/recovery/` as `<session>-<key>.json`, with a `.meta.json` beside it (the original path,
the display name, the time, the process id). A clean save or close deletes the copy. Each
process holds a `QLockFile` for its session, so at the next start the copies of a process that
died (killed, crashed, power cut) are told apart from those of a studio still running, and
offered for restore. A recovery copy never replaces the user's file: restoring opens it as an
unsaved edit of that file, and only the user's Save writes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.paths import data_dir
from app.studio.files import FileError, atomic_write
from app.studio.tasks import TaskRunner

log = logging.getLogger(__name__)

META_SUFFIX = ".meta.json"


def recovery_dir() -> Path:
    folder = data_dir() / "recovery"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class RecoveryCopy:
    """A recovery copy left by a process that is no longer running."""

    text_path: Path
    meta_path: Path
    original: Path | None
    display_name: str
    saved_at: float  # seconds since the epoch
    pid: int

    @property
    def when(self) -> str:
        """The time it was written, local, for people."""
        return datetime.fromtimestamp(self.saved_at).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def original_changed_since(self) -> bool:
        """The original file was written after this copy (saved elsewhere, say)."""
        if self.original is None:
            return False
        try:
            return self.original.stat().st_mtime > self.saved_at + 1
        except OSError:
            return False

    def read_text(self) -> str:
        return self.text_path.read_bytes().decode("utf-8", errors="replace")

    def delete(self) -> None:
        for path in (self.text_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class RecoveryStore:
    """This process's recovery session: its lock, its copies, and the copies of dead ones."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or recovery_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.session = f"{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = QLockFile(str(self._lock_path(self.session)))
        # Never stale by age (a studio may run for days); a dead process is still detected.
        self._lock.setStaleLockTime(0)
        if not self._lock.tryLock(0):
            log.warning("cannot take the recovery lock %s", self._lock_path(self.session))
        self._io = threading.Lock()
        self._revisions: dict[str, int] = {}

    def _lock_path(self, session: str) -> Path:
        return self.folder / f"{session}.lock"

    def _paths(self, key: str) -> tuple[Path, Path]:
        stem = f"{self.session}-{key}"
        return self.folder / f"{stem}.json", self.folder / f"{stem}{META_SUFFIX}"

    def write(
        self,
        key: str,
        text: str,
        original: Path | None,
        display_name: str,
        revision: int | None = None,
    ) -> Path:
        """Write (replace) the recovery copy of one document; raises `FileError`. With
        `revision`, a write older than one already made is skipped (a background write that
        finishes after a newer synchronous one never wins)."""
        text_path, meta_path = self._paths(key)
        meta = {
            "original": str(original) if original else None,
            "display_name": display_name,
            "saved_at": time.time(),
            "pid": os.getpid(),
            "session": self.session,
        }
        with self._io:
            if revision is not None:
                if revision < self._revisions.get(key, -1):
                    return text_path
                self._revisions[key] = revision
            atomic_write(text_path, text)
            atomic_write(meta_path, json.dumps(meta, indent=2) + "\n")
        return text_path

    def remove(self, key: str) -> None:
        with self._io:
            self._revisions.pop(key, None)
            for path in self._paths(key):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def has_copy(self, key: str) -> bool:
        return self._paths(key)[1].exists()

    def orphans(self) -> list[RecoveryCopy]:
        """Copies whose process is gone, newest first (copies of running studios are skipped)."""
        alive: dict[str, bool] = {self.session: True}
        found: list[RecoveryCopy] = []
        for meta_path in self.folder.glob(f"*{META_SUFFIX}"):
            copy = _read_meta(meta_path)
            if copy is None:
                continue
            session = meta_path.name[: -len(META_SUFFIX)].rsplit("-", 1)[0]
            if session not in alive:
                alive[session] = self._session_alive(session)
            if not alive[session]:
                found.append(copy)
        found.sort(key=lambda c: c.saved_at, reverse=True)
        return found

    def _session_alive(self, session: str) -> bool:
        other = QLockFile(str(self._lock_path(session)))
        other.setStaleLockTime(0)
        if other.tryLock(0):  # nobody holds it: that process is gone (a stale lock is removed)
            other.unlock()
            return False
        return True

    def close(self) -> None:
        """Release the session lock (the copies stay for the next start unless removed)."""
        self._lock.unlock()


def _read_meta(meta_path: Path) -> RecoveryCopy | None:
    text_path = meta_path.with_name(meta_path.name[: -len(META_SUFFIX)] + ".json")
    try:
        meta: Any = json.loads(meta_path.read_text("utf-8"))
        if not isinstance(meta, dict) or not text_path.is_file():
            return None
        original = meta.get("original")
        return RecoveryCopy(
            text_path=text_path,
            meta_path=meta_path,
            original=Path(original) if isinstance(original, str) and original else None,
            display_name=str(meta.get("display_name") or text_path.name),
            saved_at=float(meta.get("saved_at") or text_path.stat().st_mtime),
            pid=int(meta.get("pid") or 0),
        )
    except (OSError, ValueError, TypeError):
        log.warning("unreadable recovery metadata %s", meta_path)
        return None


class Autosaver(QObject):
    """Keeps the recovery copy of one document current while it has unsaved changes.

    The copy is written off the GUI thread at most `interval` seconds after a change and
    removed when the document becomes clean (saved, or undone back to the saved state)."""

    #: A sentence for the status bar: "Recovery copy saved", or why it could not be.
    status = Signal(str)

    def __init__(
        self,
        document: Any,
        store: RecoveryStore,
        *,
        interval: float = 5.0,
        key: str = "doc",
        display_name: Callable[[], str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._display_name = display_name
        self._store = store
        self._key = key
        self._written_revision = -1
        self._closed = False
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-autosave", parent=self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, int(interval * 1000)))
        self._timer.timeout.connect(self._tick)
        document.text_changed.connect(self._changed)
        document.file_changed.connect(self._changed)

    @property
    def interval(self) -> float:
        return self._timer.interval() / 1000

    def set_interval(self, seconds: float) -> None:
        self._timer.setInterval(max(1, int(seconds * 1000)))

    def _changed(self, *_: object) -> None:
        if not self._document.is_modified:
            self._timer.stop()
            self.discard()
        elif not self._timer.isActive():
            self._timer.start()

    def _snapshot(self) -> tuple[str, Path | None, str]:
        doc = self._document
        name = self._display_name() if self._display_name else doc.display_name
        return doc.text, doc.file_path, name

    def _tick(self) -> None:
        doc = self._document
        if self._closed or not doc.is_modified or doc.revision == self._written_revision:
            return
        revision = doc.revision
        text, original, name = self._snapshot()
        self._tasks.run(
            self._store.write,
            self._key,
            text,
            original,
            name,
            revision,
            done=lambda _r, error: self._written(revision, error),
        )

    def _written(self, revision: int, error: BaseException | None) -> None:
        if error is not None:
            log.warning("recovery copy not written: %s", error)
            reason = error if isinstance(error, FileError) else repr(error)
            self.status.emit(f"Recovery copy not written: {reason}")
            self._timer.start()  # try again later
            return
        self._written_revision = revision
        if not self._document.is_modified:  # saved while the copy was being written
            self.discard()
        elif self._document.revision != revision and not self._timer.isActive():
            self._timer.start()

    def write_now(self) -> Path | None:
        """Write the copy synchronously (the crash path); None when there is nothing unsaved."""
        doc = self._document
        if not doc.is_modified:
            return None
        text, original, name = self._snapshot()
        path = self._store.write(self._key, text, original, name, doc.revision)
        self._written_revision = doc.revision
        return path

    def discard(self) -> None:
        """Delete the copy (after a save, a clean close, or when edits are undone)."""
        self._written_revision = -1
        self._store.remove(self._key)

    def close(self, *, keep: bool = False) -> None:
        """Stop; remove the copy unless `keep` (an unclean exit keeps it for the next start)."""
        self._timer.stop()
        self._closed = True
        self._tasks.shutdown(wait=True)
        if not keep:
            self._store.remove(self._key)


class RecoveryDialog(QDialog):
    """ "Reelsmith did not close properly": the unsaved edits it kept, to restore or discard."""

    restore_requested = Signal(object)  # RecoveryCopy

    def __init__(self, copies: list[RecoveryCopy], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore unsaved edits — Reelsmith")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.copies = list(copies)

        import qtawesome

        heading = QLabel(
            "<b>Reelsmith did not close properly last time.</b><br>"
            "These unsaved edits were kept. Restoring opens them as unsaved changes of their "
            "file; your saved file is not changed until you save."
        )
        heading.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(24, 24))
        self.list.setAlternatingRowColors(True)
        self._fill()
        self.list.itemDoubleClicked.connect(lambda _item: self._restore())
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())

        buttons = QDialogButtonBox()
        self.restore_button = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        self.restore_button.setIcon(qtawesome.icon("mdi6.backup-restore"))
        self.discard_button = buttons.addButton(
            "Discard", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.discard_button.setIcon(qtawesome.icon("mdi6.delete-outline"))
        self.later_button = buttons.addButton("Not Now", QDialogButtonBox.ButtonRole.RejectRole)
        self.later_button.setToolTip("Keep the copies and ask again at the next start")
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self._restore)
        self.discard_button.clicked.connect(self._discard)
        self.later_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(560, 240)
        self._update_buttons()

    def _fill(self) -> None:
        import qtawesome

        self.list.clear()
        for copy in self.copies:
            where = str(copy.original) if copy.original else "never saved"
            text = f"{copy.display_name} — unsaved edits from {copy.when}\n{where}"
            if copy.original_changed_since:
                text += "  (the file was saved again after this copy)"
            item = QListWidgetItem(qtawesome.icon("mdi6.file-restore-outline"), text)
            item.setToolTip(where)
            self.list.addItem(item)
        if self.copies:
            self.list.setCurrentRow(0)

    def _update_buttons(self) -> None:
        selected = self.list.currentRow() >= 0
        self.restore_button.setEnabled(selected)
        self.discard_button.setEnabled(selected)

    def selected(self) -> RecoveryCopy | None:
        row = self.list.currentRow()
        return self.copies[row] if 0 <= row < len(self.copies) else None

    def _restore(self) -> None:
        copy = self.selected()
        if copy is None:
            return
        self.accept()
        self.restore_requested.emit(copy)

    def _discard(self) -> None:
        copy = self.selected()
        if copy is None:
            return
        copy.delete()
        self.copies.remove(copy)
        if not self.copies:
            self.reject()
            return
        self._fill()
