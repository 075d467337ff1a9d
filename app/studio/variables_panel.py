"""The Variables dock: every `{{variable}}` in the script, with a sample value for each.

The sample values go to `document.set_variables`, so the preview and validation substitute
them (a missing one is a `MISSING_VARIABLE` error; one the script no longer uses is an
`UNUSED_VARIABLE` warning). A value is text by default; when it is a JSON value (`42`, `true`,
`[1, 2]`, `"42"`) it is read as one, so `"duration": "{{secs}}"` can become a number. Values
outlive their placeholder: while the user retypes `{{headline}}` the name disappears for a
moment, and its value is kept (listed as "not used" until it comes back or the user removes it).
"""

from __future__ import annotations

import json
from typing import Any

import qtawesome
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.script.jsonpath import Path
from app.script.problems import MISSING_VARIABLE, UNUSED_VARIABLE
from app.script.templates import find_variables
from app.studio.document import ScriptDocument, Validation, describe
from app.studio.field_editors import CommitLineEdit, problem_color

#: How long after a data change the variables are looked for again (typing in the JSON editor
#: changes the data on every parse).
SCAN_DELAY_MS = 150


def parse_sample(text: str) -> Any:
    """A sample value from what the user typed: a JSON value when it is one, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def sample_text(value: Any) -> str:
    """What to show for a value so that `parse_sample` gives the same value back."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)  # "42" as text stays text
    return json.dumps(value, ensure_ascii=False)


def kind_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "text"


def owner_of(path: Path) -> Path:
    """The scene or element that holds `path` (what the other views select)."""
    if len(path) >= 4 and path[0] == "scenes" and path[2] == "elements":
        return path[:4]
    if len(path) >= 2 and path[0] == "scenes":
        return path[:2]
    return ()


class VariablesPanel(QWidget):
    """Lists the script's variables and edits their sample values. See the module docstring."""

    COLUMNS = ("Variable", "Sample value", "First used at")

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("VariablesPanel")
        self.document = document
        #: what the user typed for each name (kept when the name leaves the script)
        self.texts: dict[str, str] = {sk: sample_text(v) for sk, v in document.variables.items()}
        self.used: dict[str, Path] = {}
        self._names: list[str] = []
        self._edits: dict[str, CommitLineEdit] = {}
        self._pushing = False
        self._repaint_pending = False
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SCAN_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        document.data_changed.connect(lambda _paths: self._timer.start())
        document.variables_changed.connect(self._variables_changed)
        document.validated.connect(self._validated)
        self.refresh()

    def _build(self) -> None:
        self.intro = QLabel(
            "Sample values for <b>{{variables}}</b> in the script; the preview and validation "
            "use them. Type text, or a JSON value such as <tt>42</tt> or <tt>true</tt>."
        )
        self.intro.setWordWrap(True)
        self.intro.setContentsMargins(8, 6, 8, 4)
        self.empty = QLabel(
            "No variables. Write <b>{{name}}</b> in any text of the script to make it a "
            "template, then give <i>name</i> a sample value here."
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setContentsMargins(16, 16, 16, 16)
        self.empty.setEnabled(False)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.intro)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.table, 1)

    # ------------------------------------------------------------------------- public

    @property
    def names(self) -> list[str]:
        """The names listed: those the script uses (document order), then kept unused ones."""
        return list(self._names)

    def editor(self, name: str) -> CommitLineEdit | None:
        return self._edits.get(name)

    def set_sample(self, name: str, text: str) -> None:
        """Set a sample value as if typed (empty text = not set)."""
        edit = self._edits.get(name)
        if edit is not None:
            edit.set_text_quietly(text)
        self._commit(name, text)
        if (name in self.texts) != (name in self._names):
            self.refresh()

    def refresh(self) -> None:
        """Look for variables again and update the list (rebuilt only when the names change)."""
        self._timer.stop()
        text = self.document.text
        # Every placeholder is in the text as `{{` (or with an escaped brace): skip the walk
        # over every string of a large script when there is none (≈ 20–35 ms for 1 MB).
        if "{{" in text or "\\u007b" in text or "\\u007B" in text:
            self.used = find_variables(self.document.data)
        else:
            self.used = {}
        names = list(self.used)
        names += sorted(name for name in self.texts if name not in self.used)
        if names != self._names:
            self._names = names
            self._rebuild()
        else:
            for row, name in enumerate(names):
                self._fill_used(row, name)
        self.table.setVisible(bool(names))
        self.empty.setVisible(not names)
        self._push()
        validation = self.document.validation
        if validation is not None:
            self._validated(validation)

    # ------------------------------------------------------------------------- rows

    def _rebuild(self) -> None:
        self.table.setRowCount(0)
        self._edits = {}
        self.table.setRowCount(len(self._names))
        for row, name in enumerate(self._names):
            item = QTableWidgetItem(name)
            mono = QFont("monospace")
            mono.setStyleHint(QFont.StyleHint.Monospace)
            item.setFont(mono)
            self.table.setItem(row, 0, item)
            edit = CommitLineEdit()
            edit.setFrame(False)
            edit.set_text_quietly(self.texts.get(name, ""))
            edit.setPlaceholderText("not set — type a sample value")
            edit.commit.connect(lambda name=name, edit=edit: self._commit(name, edit.text()))
            self._edits[name] = edit
            self.table.setCellWidget(row, 1, edit)
            self._fill_used(row, name)
        self.table.resizeRowsToContents()

    def _fill_used(self, row: int, name: str) -> None:
        path = self.used.get(name)
        cell = self.table.cellWidget(row, 2)
        if cell is not None and cell.property("usedAt") == (path, name in self.used):
            return
        widget = QWidget()
        widget.setProperty("usedAt", (path, name in self.used))
        layout = QHBoxLayout(widget)
        layout.setContentsMargins(4, 0, 4, 0)
        if path is not None:
            link = QLabel(f'<a href="show">{_escape(describe(path))}</a>')
            link.setToolTip("Show where it is used")
            link.linkActivated.connect(lambda _href, p=path: self._show_use(p))
            layout.addWidget(link)
        else:
            note = QLabel("not used")
            note.setEnabled(False)
            layout.addWidget(note)
            remove = QToolButton()
            remove.setAutoRaise(True)
            remove.setIcon(qtawesome.icon("mdi6.close", color=self._text_color()))
            remove.setToolTip(f"Forget the sample value of {name}")
            remove.clicked.connect(lambda _c=False, n=name: self.forget(n))
            layout.addWidget(remove)
        layout.addStretch(1)
        self.table.setCellWidget(row, 2, widget)

    def _text_color(self) -> Any:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def _show_use(self, path: Path) -> None:
        self.document.select(owner_of(path), path)

    def forget(self, name: str) -> None:
        """Drop a kept sample value (of a variable the script no longer uses)."""
        self.texts.pop(name, None)
        self.refresh()

    # ------------------------------------------------------------------------- values

    def _commit(self, name: str, text: str) -> None:
        if text == "":
            self.texts.pop(name, None)
        else:
            self.texts[name] = text
        self._push()

    def values(self) -> dict[str, Any]:
        """The sample values as the document gets them."""
        return {name: parse_sample(text) for name, text in self.texts.items() if text != ""}

    def _push(self) -> None:
        values = self.values()
        current = self.document.variables
        if values == current and all(type(values[k]) is type(current[k]) for k in values):
            return
        self._pushing = True
        try:
            self.document.set_variables(values)
        finally:
            self._pushing = False

    def _variables_changed(self) -> None:
        if self._pushing:
            return
        # Someone else (opening a file with its sample values) set them: show theirs.
        self.texts = {name: sample_text(v) for name, v in self.document.variables.items()}
        for name, edit in self._edits.items():
            edit.set_text_quietly(self.texts.get(name, ""))
        self.refresh()

    def _validated(self, validation: Validation) -> None:
        flagged: dict[str, str] = {}
        for problem in validation.problems:
            if problem.code == MISSING_VARIABLE:
                for name in self._names:
                    if f"'{name}'" in problem.message:
                        flagged[name] = "error"
            elif problem.code == UNUSED_VARIABLE:
                for name in self._names:
                    if f"'{name}'" in problem.message:
                        flagged.setdefault(name, "warning")
        for row, name in enumerate(self._names):
            item = self.table.item(row, 0)
            if item is None:
                continue
            severity = flagged.get(name)
            if severity is None and name in self.used:
                item.setIcon(qtawesome.icon("mdi6.check", color=self._text_color()))
                item.setToolTip(f"{name} = {self._describe_value(name)}")
                item.setForeground(self.palette().color(QPalette.ColorRole.Text))
            elif severity is None:
                item.setIcon(qtawesome.icon("mdi6.minus", color=self._text_color()))
                item.setToolTip(f"{name} is not used by the script")
                item.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
            else:
                color = problem_color(severity, self.palette())
                item.setIcon(qtawesome.icon("mdi6.alert-circle-outline", color=color))
                item.setForeground(color)
                item.setToolTip(
                    f"{name} has no sample value: the preview cannot substitute it"
                    if severity == "error"
                    else f"{name} is not used by the script"
                )
            edit = self._edits.get(name)
            if edit is not None:
                edit.setToolTip(f"Read as {self._describe_value(name)}")

    def _describe_value(self, name: str) -> str:
        text = self.texts.get(name)
        if text is None:
            return "not set"
        value = parse_sample(text)
        return f"{kind_text(value)} {json.dumps(value, ensure_ascii=False)}"

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and not self._repaint_pending:
            self._repaint_pending = True
            QTimer.singleShot(0, self._palette_changed)

    def _palette_changed(self) -> None:
        # light ↔ dark: the icons and colours were drawn for the old palette
        self._repaint_pending = False
        self._names = []
        self.refresh()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
