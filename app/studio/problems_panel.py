"""The Problems dock: every error and warning of the script, with where it is, one click away.

A table (severity and message, where in words, line:column, code) that sorts by any column and
filters by severity and text, under a header that counts them ("3 errors, 1 warning").
Activating a row selects the problem's scene or element in the document with the problem's path
as focus, so the scene list selects the scene, the inspector focuses the field and the JSON
editor puts its cursor on the range. The rows are a model over the validation's located
problems, replaced when a new validation lands (cheap even for thousands of problems).
"""

from __future__ import annotations

import time
from typing import Any

import qtawesome
from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.script.jsonpath import Path
from app.script.problems import Problem
from app.script.validate import Location
from app.studio.document import ScriptDocument, Validation, describe
from app.studio.json_highlighter import theme_for

#: the role holding a row's `Problem`
ProblemRole = Qt.ItemDataRole.UserRole + 1

COLUMNS = ("Problem", "Where", "Line", "Code")
PROBLEM, WHERE, LINE, CODE = range(4)


def selection_for(path: Path) -> Path:
    """What to select for a problem at `path`: its element, else its scene, else the movie."""
    if (
        len(path) >= 4
        and path[0] == "scenes"
        and path[2] == "elements"
        and isinstance(path[1], int)
        and isinstance(path[3], int)
    ):
        return path[:4]
    if len(path) >= 2 and path[0] == "scenes" and isinstance(path[1], int):
        return path[:2]
    return ()


def counts_text(errors: int, warnings: int) -> str:
    if not errors and not warnings:
        return "No problems"

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{count(errors, 'error')}, {count(warnings, 'warning')}"


class ProblemsModel(QAbstractTableModel):
    """The rows of one validation, filtered and sorted here in Python (sorting with keys on a
    list costs milliseconds for thousands of rows; a proxy would call back into Python for
    every comparison)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._all: list[tuple[Problem, Location]] = []
        self._rows: list[tuple[Problem, Location]] = []
        self._icons: dict[str, QIcon] = {}
        self.show_errors = True
        self.show_warnings = True
        self.text = ""
        self.sort_column = LINE
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.set_palette(QGuiApplication.palette())

    def set_palette(self, palette: QPalette) -> None:
        theme = theme_for(palette)
        self._icons = {
            "error": qtawesome.icon("mdi6.close-circle", color=theme.error),
            "warning": qtawesome.icon("mdi6.alert", color=theme.warning),
        }
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def icon(self, severity: str) -> QIcon:
        return self._icons["error" if severity == "error" else "warning"]

    def set_rows(self, rows: list[tuple[Problem, Location]]) -> None:
        self._all = list(rows)
        self._refresh()

    def set_filter(self, errors: bool, warnings: bool, text: str) -> None:
        self.show_errors, self.show_warnings, self.text = errors, warnings, text.strip().lower()
        self._refresh()

    def all_rows(self) -> list[tuple[Problem, Location]]:
        return list(self._all)

    def visible_rows(self) -> list[tuple[Problem, Location]]:
        """The rows as shown: filtered and sorted."""
        return list(self._rows)

    def problem(self, row: int) -> Problem | None:
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self._refresh()

    def _accepts(self, problem: Problem) -> bool:
        if not (self.show_errors if problem.is_error else self.show_warnings):
            return False
        if not self.text:
            return True
        haystack = " ".join(
            (problem.message, describe(problem.path), problem.path_text, problem.code)
        ).lower()
        return all(word in haystack for word in self.text.split())

    def _refresh(self) -> None:
        rows = [row for row in self._all if self._accepts(row[0])]
        rows.sort(key=_SORT_KEYS[self.sort_column])
        if self.sort_order == Qt.SortOrder.DescendingOrder:
            rows.reverse()
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        problem, where = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == PROBLEM:
                return problem.message
            if column == WHERE:
                return describe(problem.path) if problem.path else "script"
            if column == LINE:
                return f"{where.line}:{where.column}"
            return problem.code
        if role == Qt.ItemDataRole.DecorationRole and column == PROBLEM:
            return self.icon(problem.severity)
        if role == Qt.ItemDataRole.ToolTipRole:
            label = f"{'Error' if problem.is_error else 'Warning'} ({problem.code})"
            path = problem.path_text or "(the whole script)"
            place = f"Line {where.line}, column {where.column}"
            return f"{label}: {problem.message}\nPath: {path}\n{place}"
        if role == Qt.ItemDataRole.AccessibleTextRole and column == PROBLEM:
            return f"{problem.severity}: {problem.message}"
        if role == ProblemRole:
            return problem
        return None


def _path_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    # Indices sort numerically (scene 10 after scene 9) and before names.
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in path)


_SORT_KEYS: dict[int, Any] = {
    PROBLEM: lambda row: (0 if row[0].is_error else 1, row[1].start, row[1].end),
    WHERE: lambda row: (_path_key(row[0].path), row[1].start),
    LINE: lambda row: (row[1].start, row[1].end),
    CODE: lambda row: (row[0].code, row[1].start),
}


class ProblemsPanel(QWidget):
    """The Problems dock. Construct with the document; it follows `document.validated`."""

    #: a row was activated (click, double-click or Enter): the window may raise the Script dock
    problem_activated = Signal(object)

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._last_activation: tuple[Problem | None, float] = (None, 0.0)
        self.model = ProblemsModel(self)

        self.counts = QLabel("Checking…", self)
        self.counts.setObjectName("problemsCounts")
        font = self.counts.font()
        font.setBold(True)
        self.counts.setFont(font)
        self.errors_button = self._toggle("mdi6.close-circle", "Show errors")
        self.warnings_button = self._toggle("mdi6.alert", "Show warnings")
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter (message, scene, field, code)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter problems")
        self.filter_edit.addAction(
            qtawesome.icon("mdi6.filter-variant"), QLineEdit.ActionPosition.LeadingPosition
        )
        self.filter_edit.setMinimumWidth(120)
        self.filter_edit.setMaximumWidth(320)

        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 4)
        header.setSpacing(6)
        header.addWidget(self.counts)
        header.addStretch(1)
        header.addWidget(self.errors_button)
        header.addWidget(self.warnings_button)
        header.addWidget(self.filter_edit, 1)

        self.view = QTreeView(self)
        self.view.setObjectName("problemsView")
        self.view.setAccessibleName("Problems")
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAllColumnsShowFocus(True)
        self.view.sortByColumn(LINE, Qt.SortOrder.AscendingOrder)
        columns = self.view.header()
        columns.setStretchLastSection(False)
        columns.setSectionResizeMode(PROBLEM, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(WHERE, QHeaderView.ResizeMode.Interactive)
        columns.setSectionResizeMode(LINE, QHeaderView.ResizeMode.ResizeToContents)
        columns.setSectionResizeMode(CODE, QHeaderView.ResizeMode.Interactive)
        metrics = self.fontMetrics()
        self._where_width = metrics.horizontalAdvance("scene 000 › element 0 › font_size")
        columns.resizeSection(WHERE, self._where_width)
        columns.resizeSection(CODE, metrics.horizontalAdvance("SCHEMA_VALIDATION_ERROR  "))
        columns.setMinimumSectionSize(metrics.horizontalAdvance("Line") + 24)
        # The code is in each row's tooltip; the column is one right-click away.
        self.view.setColumnHidden(CODE, True)
        columns.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        columns.customContextMenuRequested.connect(self._header_menu)

        self.empty = QLabel(self)
        self.empty.setObjectName("problemsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)

        self.copy_action = QAction(qtawesome.icon("mdi6.content-copy"), "Copy", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy_selected)
        self.view.addAction(self.copy_action)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        self.view.clicked.connect(self.activate)
        self.view.activated.connect(self.activate)
        self.errors_button.toggled.connect(self._refilter)
        self.warnings_button.toggled.connect(self._refilter)
        self.filter_edit.textChanged.connect(self._refilter)
        document.validated.connect(self._validated)
        if document.validation is not None:
            self._validated(document.validation)
        else:
            self._update_header()

    def _toggle(self, icon: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setCheckable(True)
        button.setChecked(True)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setToolTip(tip)
        button.setIcon(self.model.icon("error" if "error" in tip else "warning"))
        button.setText("0")
        return button

    # ---- following the document ----------------------------------------------------------------

    def _validated(self, validation: Validation) -> None:
        current = self._current_key()
        scrolled = self.view.verticalScrollBar().value()
        self.view.setUpdatesEnabled(False)
        try:
            self.model.set_rows(validation.located)
            if current is not None:
                self._restore_current(current)
            # A new validation lands on every keystroke: the list must not jump to the top.
            self.view.verticalScrollBar().setValue(scrolled)
        finally:
            self.view.setUpdatesEnabled(True)
        self._update_header()

    def _current_key(self) -> tuple[Path, str] | None:
        index = self.view.currentIndex()
        problem = index.data(ProblemRole) if index.isValid() else None
        return (problem.path, problem.message) if problem is not None else None

    def _restore_current(self, key: tuple[Path, str]) -> None:
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            problem = index.data(ProblemRole)
            if (problem.path, problem.message) == key:
                self.view.setCurrentIndex(index)
                return

    def _refilter(self) -> None:
        self.model.set_filter(
            self.errors_button.isChecked(),
            self.warnings_button.isChecked(),
            self.filter_edit.text(),
        )
        self._update_header()

    def _update_header(self) -> None:
        rows = self.model.all_rows()
        errors = sum(1 for problem, _ in rows if problem.is_error)
        warnings = len(rows) - errors
        text = counts_text(errors, warnings)
        shown = self.model.rowCount()
        if rows and shown != len(rows):
            text += f" ({shown} shown)"
        if self.document.validation is None:
            text = "Checking…"
        self.counts.setText(text)
        self.errors_button.setText(str(errors))
        self.warnings_button.setText(str(warnings))
        self.errors_button.setToolTip(f"Show errors ({errors})")
        self.warnings_button.setToolTip(f"Show warnings ({warnings})")
        if shown:
            self.stack.setCurrentWidget(self.view)
        else:
            if not rows:
                self.empty.setText(
                    "No problems have been found in the script."
                    if self.document.validation is not None
                    else "Checking the script…"
                )
            else:
                self.empty.setText("No problem matches the filter.")
            self.stack.setCurrentWidget(self.empty)

    # ---- navigation ----------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """The problems in the order shown (after sorting and filtering)."""
        return [row[0] for row in self.model.visible_rows()]

    def activate(self, index: QModelIndex) -> None:
        """Select the problem's scene or element, focused on the problem's path."""
        problem = index.siblingAtColumn(0).data(ProblemRole) if index.isValid() else None
        if problem is None:
            return
        # A double click is a click and an activation (and a single click is both on some
        # desktops): one navigation.
        now = time.monotonic()
        last_problem, last_time = self._last_activation
        if last_problem is problem and now - last_time < QApplication.doubleClickInterval() / 1000:
            return
        self._last_activation = (problem, now)
        self.document.select(selection_for(problem.path), problem.path)
        self.problem_activated.emit(problem)

    def copy_selected(self) -> None:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        lines = []
        for row in rows:
            index = self.model.index(row, 0)
            problem: Problem = index.data(ProblemRole)
            line = self.model.index(row, LINE).data()
            where = problem.path_text or "(script)"
            lines.append(f"{problem.severity}\t{problem.message}\t{where}\t{line}\t{problem.code}")
        if lines:
            QGuiApplication.clipboard().setText("\n".join(lines))

    def _context_menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        menu = QMenu(self)
        if index.isValid():
            go = menu.addAction(qtawesome.icon("mdi6.target"), "Show in Script")
            go.triggered.connect(lambda: self.activate(index))
        menu.addAction(self.copy_action)
        self.copy_action.setEnabled(self.model.rowCount() > 0)
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _header_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for column in (WHERE, LINE, CODE):
            action = menu.addAction(COLUMNS[column])
            action.setCheckable(True)
            action.setChecked(not self.view.isColumnHidden(column))
            action.toggled.connect(lambda on, c=column: self.view.setColumnHidden(c, not on))
        menu.exec(self.view.header().viewport().mapToGlobal(pos))
        menu.deleteLater()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        # In a narrow dock the message keeps most of the width: "Where" takes at most 35 %.
        width = self.view.viewport().width()
        self.view.header().resizeSection(WHERE, max(90, min(self._where_width, width * 35 // 100)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.model.set_palette(self.palette())
            self.errors_button.setIcon(self.model.icon("error"))
            self.warnings_button.setIcon(self.model.icon("warning"))
