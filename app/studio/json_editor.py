"""The Script dock: the movie script as JSON text, in step with every other view.

What the user types goes to the document at once (`document.set_text`), so Ctrl+Z is the
document's one undo stack and the editor keeps no history of its own. When the text changes from
elsewhere (an inspector edit, an undo, a file load) only the differing middle of the text is
replaced, so a one-field edit in a 1 MB script costs a few milliseconds and the cursor stays on
its line. Problems are underlined at their exact text range (wavy red for errors, amber for
warnings) with the message as tooltip, and marked in the line-number gutter. Moving the cursor
into a scene or element selects it in the document; a selection made elsewhere puts the cursor
on its range. The active schema explains a hovered key and completes keys (after an opening
quote where a key goes, or Ctrl+Space). Find (Ctrl+F), Go to Line (Ctrl+G), Format JSON,
Next/Previous Problem (F8/Shift+F8), paired brackets and quotes, auto-indent, Tab = 2 spaces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import qtawesome
from PySide6.QtCore import QEvent, QPoint, QRect, QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontDatabase,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.script.jsonpath import Path
from app.script.problems import Problem
from app.script.sourcemap import SourceMap
from app.studio.document import MISSING, ScriptDocument, Validation, describe, dumps
from app.studio.field_editors import FieldSpec, field_specs
from app.studio.json_highlighter import (
    LAZY_CHANGE,
    LONG_LINE,
    JsonHighlighter,
    OffsetMap,
    theme_for,
)

#: How long the cursor must rest before the scene/element under it is selected.
SELECT_DELAY_MS = 250
#: How far bracket matching looks (characters) before giving up.
BRACKET_REACH = 40_000
_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')
_PAIRS = {"{": "}", "[": "]", "}": "{", "]": "["}


def owner_path(path: Path) -> Path | None:
    """The scene or element holding `path`; `()` (the movie) for top-level fields; None inside
    the scenes list but outside any scene."""
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
    if path[:1] == ("scenes",):
        return None
    return ()


@dataclass
class Mark:
    """One underlined problem: a live cursor over its range (it follows edits) and the problem."""

    cursor: QTextCursor
    problem: Problem


@dataclass
class Completion:
    """Keys that may be typed at a place: replacing Qt positions `start`..`end` (the partial
    key with its quotes) by a key's snippet (`"key": value`)."""

    keys: list[str]
    prefix: str
    start: int
    end: int
    values: dict[str, str]
    #: the key is followed by its colon already (renaming a key): insert the key alone
    key_only: bool = False
    #: another member follows: the new one needs a comma after its value
    comma: bool = False

    def snippet(self, key: str) -> tuple[str, int]:
        """The text to insert and where the caret goes in it (inside a string value)."""
        if self.key_only:
            text = json.dumps(key)
            return text, len(text)
        value = self.values.get(key, "null")
        text = f"{json.dumps(key)}: {value}"
        caret = len(text) - 1 if value.startswith('"') and value.endswith('"') else len(text)
        return text + ("," if self.comma else ""), caret


def value_template(spec: FieldSpec) -> str:
    """A starting value for a new key: its default, else its first choice, else an empty one
    of its type."""
    if spec.default is not MISSING:
        return json_text(spec.default)
    if spec.enum:
        return json_text(spec.enum[0])
    kind = spec.types[0] if spec.types else "null"
    if kind in ("number", "integer"):
        low = spec.minimum if spec.minimum is not None else 0
        return _number(low + (1 if spec.exclusive_minimum else 0))
    return {"string": '""', "boolean": "false", "object": "{}", "array": "[]"}.get(kind, "null")


def matching_bracket(text: str, offset: int) -> int | None:
    """The offset of the bracket matching the one at `offset`, skipping strings; None when the
    character is not a bracket, is inside a string, or has no match within `BRACKET_REACH`.

    Scans start at a line start: JSON strings never span lines, so strings are seen as such."""
    char = text[offset : offset + 1]
    if char not in _PAIRS:
        return None
    if char in "{[":
        begin = text.rfind("\n", 0, offset) + 1
        stop = text.find("\n", min(len(text), offset + BRACKET_REACH))
        depth = 0
        for match in _BRACKETS.finditer(text, begin, len(text) if stop < 0 else stop):
            if match.end() <= offset:
                continue
            token = match.group()
            if token[0] == '"':
                if match.start() < offset:
                    return None  # the bracket is inside this string
                continue
            depth += 1 if token in "{[" else -1
            if depth == 0:
                return match.start() if token == _PAIRS[char] else None
        return None
    begin = text.rfind("\n", 0, max(0, offset - BRACKET_REACH)) + 1
    stop = text.find("\n", offset)
    stack: list[tuple[str, int]] = []
    for match in _BRACKETS.finditer(text, begin, len(text) if stop < 0 else stop):
        token = match.group()
        if match.start() > offset:
            break
        if token[0] == '"':
            if offset < match.end():
                return None  # the bracket is inside this string
            continue
        if token in "{[":
            stack.append((token, match.start()))
        elif match.start() == offset:
            return stack[-1][1] if stack and stack[-1][0] == _PAIRS[char] else None
        elif stack:
            stack.pop()
    return None


class _Gutter(QWidget):
    """Line numbers and problem markers, painted by the editor."""

    def __init__(self, editor: JsonTextEdit) -> None:
        super().__init__(editor)
        self._editor = editor
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(self._editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self._editor.paint_gutter(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            pos = event.pos()  # type: ignore[attr-defined]
            text = self._editor.gutter_tooltip(pos.y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)


class JsonTextEdit(QPlainTextEdit):
    """The text widget: monospace, gutter, current line, brackets, underlines, smart keys."""

    undo_requested = Signal()
    redo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ready = False
        self.setUndoRedoEnabled(False)
        #: True while only formats change (colouring): the text itself did not change
        self.formatting = False
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(False)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 2)
        # Before the highlighter connects, so `lazy` is decided before it sees a change.
        self.document().contentsChange.connect(self._contents_change)
        self.highlighter = JsonHighlighter(self.document(), self.palette())
        self.marks: list[Mark] = []
        #: what a hovered key means (the schema's words), given a Qt position; "" for nothing
        self.describe_key: Callable[[int], str] | None = None
        #: the keys that may be typed at a Qt position (see `ScriptEditorPanel.completion_at`)
        self.complete_key: Callable[[int], Completion | None] | None = None
        self._completion: Completion | None = None
        self.completer = QCompleter(self)
        self.completer.setWidget(self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setModel(QStringListModel(self.completer))
        self.completer.activated.connect(self._complete_with)
        self._mark_selections: list[QTextEdit.ExtraSelection] | None = None
        self._icons: dict[tuple[str, str], QIcon] = {}
        self._line_markers: dict[int, str] | None = None
        self._gutter = _Gutter(self)
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self.cursorPositionChanged.connect(self._refresh_extra_selections)
        self._update_gutter_width()
        self._refresh_extra_selections()
        self._ready = True

    # ---- problems --------------------------------------------------------------------------------

    def set_marks(self, marks: list[Mark]) -> None:
        self.marks = marks
        self._line_markers = None
        self._refresh_extra_selections(rebuild_marks=True)
        self._gutter.update()

    def problems_at(self, position: int) -> list[Problem]:
        """The problems underlined at a Qt position (hovering either edge counts)."""
        return [
            m.problem
            for m in self.marks
            if m.cursor.selectionStart() <= position <= m.cursor.selectionEnd()
        ]

    def line_markers(self) -> dict[int, str]:
        """Block number → "error" or "warning" (errors win), for the gutter."""
        if self._line_markers is None:
            markers: dict[int, str] = {}
            for mark in self.marks:
                line = mark.cursor.block().blockNumber()
                if mark.cursor.hasSelection():
                    line = self.document().findBlock(mark.cursor.selectionStart()).blockNumber()
                if markers.get(line) != "error":
                    markers[line] = mark.problem.severity
            self._line_markers = markers
        return self._line_markers

    # ---- extra selections ------------------------------------------------------------------------

    def _refresh_extra_selections(self, rebuild_marks: bool = False) -> None:
        """Current line, underlines, bracket pair. The underlines' selections are built once
        per validation (their cursors follow the text), not on every cursor move."""
        if rebuild_marks or self._mark_selections is None:
            theme = theme_for(self.palette())
            formats = {}
            for severity, name in (("error", theme.error), ("warning", theme.warning)):
                fmt = QTextCharFormat()
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(QColor(name))
                formats[severity] = fmt
            built = []
            for mark in self.marks:
                selection = QTextEdit.ExtraSelection()
                selection.format = formats["error" if mark.problem.is_error else "warning"]
                selection.cursor = mark.cursor
                built.append(selection)
            self._mark_selections = built
        line = QTextEdit.ExtraSelection()
        color = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        color.setAlpha(28)
        line.format.setBackground(color)
        line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        cursor = self.textCursor()
        cursor.clearSelection()
        line.cursor = cursor
        self.setExtraSelections([line, *self._mark_selections, *self._brackets()])

    def _brackets(self) -> list[QTextEdit.ExtraSelection]:
        cursor = self.textCursor()
        if cursor.hasSelection():
            return []
        pos = cursor.position()
        block = cursor.block()
        text = block.text()
        column = pos - block.position()
        # The bracket after the cursor, else the one before it.
        for candidate in (column, column - 1):
            if 0 <= candidate < len(text) and text[candidate] in "{}[]":
                return self._bracket_pair(block.position() + candidate, text[candidate])
        return []

    def _bracket_pair(self, position: int, char: str) -> list[QTextEdit.ExtraSelection]:
        document = self.document()
        # Scan a window of the document around the bracket (never the whole 1 MB text).
        window_start = max(0, position - BRACKET_REACH)
        window_end = min(document.characterCount() - 1, position + BRACKET_REACH)
        cursor = QTextCursor(document)
        cursor.setPosition(window_start)
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
        window_start = cursor.position()
        cursor.setPosition(window_end, QTextCursor.MoveMode.KeepAnchor)
        window = cursor.selectedText().replace("\u2029", "\n")
        if len(window) != window_end - window_start:
            return []  # characters Qt counts differently: no matching here
        match = matching_bracket(window, position - window_start)
        selections = []
        color = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        color.setAlpha(70)
        for at in (position, None if match is None else match + window_start):
            if at is None:
                continue
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(color)
            c = QTextCursor(document)
            c.setPosition(at)
            c.setPosition(at + 1, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = c
            selections.append(selection)
        return selections if match is not None else []

    # ---- keys ------------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and (
                event.matches(QKeySequence.StandardKey.Undo)
                or event.matches(QKeySequence.StandardKey.Redo)
                or _is_duplicate(event)
            )
        ):
            # Ours, not the window's: undo/redo go to the document from here, and Ctrl+D
            # duplicates the line being edited rather than the selected scene.
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._popup()
        if popup.isVisible() and event.key() in (
            Qt.Key.Key_Enter,
            Qt.Key.Key_Return,
            Qt.Key.Key_Escape,
            Qt.Key.Key_Tab,
            Qt.Key.Key_Backtab,
        ):
            event.ignore()  # the completer's popup takes these
            return
        if (
            event.key() == Qt.Key.Key_Space
            and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        ):
            self.show_completions()
            return
        self._handle_key(event)
        if popup.isVisible():
            self._refresh_completions()
        elif event.text() == '"':
            self.show_completions(only_if_key=True)

    def _popup(self) -> QAbstractItemView:
        popup = self.completer.popup()
        assert popup is not None  # QCompleter always has one
        return popup

    def show_completions(self, only_if_key: bool = False) -> bool:
        """Offer the keys the schema allows at the cursor (Ctrl+Space, or after an opening
        quote where a key goes); False when the cursor is not where a key goes."""
        completion = self.complete_key(self.textCursor().position()) if self.complete_key else None
        self._completion = completion
        if completion is None or not completion.keys:
            self._popup().hide()
            return False
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(completion.keys)
        self.completer.setCompletionPrefix(completion.prefix)
        if self.completer.completionCount() == 0:
            self._popup().hide()
            return False
        rect = self.cursorRect()
        popup = self._popup()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 8)
        self.completer.complete(rect)
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        return True

    def _refresh_completions(self) -> None:
        if not self.show_completions():
            self._popup().hide()

    def _complete_with(self, key: str) -> None:
        completion = self._completion
        if completion is None:
            return
        text, caret = completion.snippet(key)
        cursor = self.textCursor()
        cursor.beginEditBlock()
        cursor.setPosition(completion.start)
        cursor.setPosition(completion.end, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.setPosition(completion.start + caret)
        self.setTextCursor(cursor)
        self._completion = None

    def _handle_key(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo_requested.emit()
            return
        if event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Y and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        ):
            self.redo_requested.emit()
            return
        if _is_duplicate(event):
            self.duplicate_lines()
            return
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Tab and mods == Qt.KeyboardModifier.NoModifier:
            self._indent_or_spaces()
            return
        if key == Qt.Key.Key_Backtab:
            self._outdent()
            return
        if self._pairing(event):
            return
        if event.text() in ("}", "]") and self._dedent_before_closer():
            super().keyPressEvent(event)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.ShiftModifier,
        ):
            self._newline()
            return
        super().keyPressEvent(event)

    def _pairing(self, event: QKeyEvent) -> bool:
        """Brackets and quotes in pairs, as code editors do: `{` gives `{}` with the cursor
        inside, a typed closer steps over the same closer, Backspace between an empty pair
        removes both. Never inside a string, never with a selection or on a very long line."""
        cursor = self.textCursor()
        if cursor.hasSelection():
            return False
        block = cursor.block()
        if block.length() > LONG_LINE:
            return False
        line = block.text()
        column = cursor.positionInBlock()
        if not OffsetMap(line).identity:
            return False  # Qt columns are not Python indexes on this line: type plainly
        before = line[column - 1] if column else ""
        after = line[column] if column < len(line) else ""
        typed = event.text()
        in_string = _inside_string(line, column)
        if event.key() == Qt.Key.Key_Backspace and event.modifiers() in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            if (
                before
                and after
                and (before + after) in ("{}", "[]", '""')
                and (before != '"' or not _inside_string(line, column - 1))
            ):
                cursor.beginEditBlock()
                cursor.movePosition(QTextCursor.MoveOperation.Left)
                cursor.movePosition(
                    QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor, 2
                )
                cursor.removeSelectedText()
                cursor.endEditBlock()
                return True
            return False
        if typed in ("}", "]") and after == typed and not in_string:
            cursor.movePosition(QTextCursor.MoveOperation.Right)
            self.setTextCursor(cursor)
            return True
        if typed == '"':
            if in_string and after == '"':
                cursor.movePosition(QTextCursor.MoveOperation.Right)  # close the string
                self.setTextCursor(cursor)
                return True
            if not in_string and after in _OPEN_AFTER and not before.isalnum():
                self._insert_pair('""', cursor)
                return True
            return False
        if typed in ("{", "[") and not in_string and after in _OPEN_AFTER:
            self._insert_pair(typed + _PAIRS[typed], cursor)
            return True
        return False

    def _insert_pair(self, pair: str, cursor: QTextCursor) -> None:
        cursor.insertText(pair)
        cursor.movePosition(QTextCursor.MoveOperation.Left)
        self.setTextCursor(cursor)

    def duplicate_lines(self) -> None:
        """Copy the lines of the cursor or selection below them (one edit)."""
        cursor = self.textCursor()
        document = self.document()
        first = document.findBlock(cursor.selectionStart())
        last = document.findBlock(max(cursor.selectionStart(), cursor.selectionEnd() - 1))
        start = first.position()
        end = last.position() + last.length() - 1
        span = QTextCursor(document)
        span.setPosition(start)
        span.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        lines = span.selectedText().replace("\u2029", "\n")
        edit = QTextCursor(document)
        edit.setPosition(end)
        edit.insertText("\n" + lines)
        # The cursor (and selection) move to the copy, as in other editors.
        shift = len(lines) + 1
        moved = self.textCursor()
        moved.setPosition(cursor.anchor() + shift)
        moved.setPosition(cursor.position() + shift, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(moved)

    def _dedent_before_closer(self) -> bool:
        """A closing bracket typed on a blank indented line goes one level out (2 spaces)."""
        cursor = self.textCursor()
        if cursor.hasSelection():
            return False
        before = cursor.block().text()[: cursor.positionInBlock()]
        if len(before) < 2 or before.strip(" "):
            return False
        cursor.setPosition(cursor.position() - 2, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        return True

    def _indent_or_spaces(self) -> None:
        cursor = self.textCursor()
        if cursor.hasSelection() and "\u2029" in cursor.selectedText():
            self._shift_lines(+1)
            return
        column = cursor.positionInBlock()
        cursor.insertText(" " * (2 - column % 2))

    def _outdent(self) -> None:
        self._shift_lines(-1)

    def _shift_lines(self, direction: int) -> None:
        cursor = self.textCursor()
        document = self.document()
        first = document.findBlock(cursor.selectionStart())
        last = document.findBlock(max(cursor.selectionStart(), cursor.selectionEnd() - 1))
        edit = QTextCursor(document)
        edit.beginEditBlock()
        block = first
        while block.isValid():
            edit.setPosition(block.position())
            if direction > 0:
                edit.insertText("  ")
            else:
                spaces = len(block.text()) - len(block.text().lstrip(" "))
                remove = min(2, spaces)
                if remove:
                    edit.setPosition(block.position() + remove, QTextCursor.MoveMode.KeepAnchor)
                    edit.removeSelectedText()
            if block == last:
                break
            block = block.next()
        edit.endEditBlock()

    def _newline(self) -> None:
        cursor = self.textCursor()
        block_text = cursor.block().text()
        column = cursor.positionInBlock()
        before = block_text[:column].rstrip()
        after = block_text[column:].lstrip()
        indent = block_text[: len(block_text) - len(block_text.lstrip(" \t"))]
        cursor.beginEditBlock()
        if cursor.hasSelection():
            cursor.removeSelectedText()
        if before.endswith(("{", "[")):
            inner = indent + "  "
            if after[:1] == _PAIRS[before[-1]]:
                # Between a pair of brackets: open an indented line and put the closer below.
                cursor.insertText("\n" + inner)
                keep = cursor.position()
                cursor.insertText("\n" + indent)
                cursor.setPosition(keep)
            else:
                cursor.insertText("\n" + inner)
        else:
            cursor.insertText("\n" + indent)
        cursor.endEditBlock()
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    # ---- painting --------------------------------------------------------------------------------

    def visible_blocks(self) -> list[QTextBlock]:
        blocks = []
        block = self.firstVisibleBlock()
        offset = self.contentOffset()
        height = self.viewport().height()
        while block.isValid():
            top = self.blockBoundingGeometry(block).translated(offset).top()
            if top > height:
                break
            blocks.append(block)
            block = block.next()
        return blocks

    def paintEvent(self, event: QPaintEvent) -> None:
        self.formatting = True  # colouring changes formats only: not an edit of the text
        try:
            self.highlighter.highlight_visible(self.visible_blocks())
        finally:
            self.formatting = False
        super().paintEvent(event)

    def _contents_change(self, position: int, removed: int, added: int) -> None:
        self.highlighter.lazy = added > LAZY_CHANGE
        self._line_markers = None

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and self._ready:  # Ctrl+wheel zoom
            self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 2)
            self._update_gutter_width()
            self.resizeEvent(QResizeEvent(self.size(), self.size()))
        if event.type() == QEvent.Type.PaletteChange:
            self.formatting = True
            try:
                self.highlighter.set_palette(self.palette())
            finally:
                self.formatting = False
            self._refresh_extra_selections(rebuild_marks=True)
            self.viewport().update()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            pos = event.pos()  # type: ignore[attr-defined]
            position = self.cursorForPosition(pos).position()
            parts = []
            problems = self.problems_at(position)
            if problems:
                parts.append(tooltip_text(problems))
            if self.describe_key is not None:
                about = self.describe_key(position)
                if about:
                    parts.append(about)
            if parts:
                QToolTip.showText(
                    event.globalPos(),  # type: ignore[attr-defined]
                    "\n\n".join(parts),
                    self.viewport(),
                )
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    # ---- gutter ----------------------------------------------------------------------------------

    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        metrics = self.fontMetrics()
        return 10 + metrics.horizontalAdvance("9") * max(3, digits) + self._marker_size() + 6

    def _marker_size(self) -> int:
        return max(12, self.fontMetrics().height() - 2)

    def _update_gutter_width(self, _count: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        rect = self.contentsRect()
        self._gutter.setGeometry(QRect(rect.left(), rect.top(), self.gutter_width(), rect.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self._gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        markers = self.line_markers()
        current = self.textCursor().blockNumber()
        size = self._marker_size()
        theme = theme_for(palette)
        icons = {
            "error": self._icon("mdi6.close-circle", theme.error),
            "warning": self._icon("mdi6.alert", theme.warning),
        }
        width = self._gutter.width()
        line_height = self.fontMetrics().height()
        offset = self.contentOffset()
        for block in self.visible_blocks():
            if not block.isVisible():
                continue
            top = round(self.blockBoundingGeometry(block).translated(offset).top())
            number = block.blockNumber()
            role = (
                QPalette.ColorRole.Text if number == current else QPalette.ColorRole.PlaceholderText
            )
            painter.setPen(palette.color(role))
            painter.drawText(
                0,
                top,
                width - size - 8,
                line_height,
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                str(number + 1),
            )
            severity = markers.get(number)
            if severity:
                icons[severity].paint(
                    painter, QRect(width - size - 3, top + (line_height - size) // 2, size, size)
                )
        painter.end()

    def _icon(self, name: str, color: str) -> QIcon:
        icon = self._icons.get((name, color))
        if icon is None:
            icon = self._icons[(name, color)] = qtawesome.icon(name, color=color)
        return icon

    def gutter_tooltip(self, y: int) -> str:
        block = self.cursorForPosition(QPoint(0, y)).block()
        number = block.blockNumber()
        problems = [
            m.problem
            for m in self.marks
            if self.document().findBlock(m.cursor.selectionStart()).blockNumber() == number
        ]
        return tooltip_text(problems) if problems else ""


#: a bracket or quote typed before one of these gets its partner
_OPEN_AFTER = ("", " ", "\t", ",", "}", "]", ":")


def _inside_string(line: str, column: int) -> bool:
    """Whether `column` of a line is inside a JSON string (strings never span lines)."""
    inside = False
    escaped = False
    for char in line[:column]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = inside
        elif char == '"':
            inside = not inside
    return inside


def _string_start(line: str, column: int) -> int:
    """The index of the quote opening the string that `column` is inside."""
    start = -1
    escaped = False
    for index, char in enumerate(line[:column]):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = start >= 0
        elif char == '"':
            start = index if start < 0 else -1
    return start


def _enclosing_opener(text: str, offset: int) -> int | None:
    """The offset of the innermost `{` or `[` still open at `offset` (within reach)."""
    begin = text.rfind("\n", 0, max(0, offset - BRACKET_REACH)) + 1
    stack: list[int] = []
    for match in _BRACKETS.finditer(text, begin, offset):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "{[":
            stack.append(match.start())
        elif stack:
            stack.pop()
    return stack[-1] if stack else None


def _is_duplicate(event: QKeyEvent) -> bool:
    return event.key() == Qt.Key.Key_D and event.modifiers() == Qt.KeyboardModifier.ControlModifier


def field_help(spec: FieldSpec) -> str:
    """`font_size: number, 1 to 500 px, default 48` and the schema's description."""
    kinds = " or ".join(spec.types) if spec.types else "any value"
    if spec.nullable:
        kinds += " or null"
    facts = [kinds]
    if spec.enum:
        facts = ["one of " + ", ".join(json_text(v) for v in spec.enum)]
    low, high = spec.minimum, spec.maximum
    unit = f" {spec.unit}" if spec.unit else ""
    if low is not None and high is not None:
        above = f" (more than {_number(low)})" if spec.exclusive_minimum else ""
        facts.append(f"{_number(low)} to {_number(high)}{unit}{above}")
    elif low is not None:
        facts.append(
            f"{'more than' if spec.exclusive_minimum else 'at least'} {_number(low)}{unit}"
        )
    elif high is not None:
        facts.append(
            f"{'less than' if spec.exclusive_maximum else 'at most'} {_number(high)}{unit}"
        )
    elif unit:
        facts.append(unit.strip())
    if spec.default is not MISSING:
        facts.append(f"default {json_text(spec.default)}")
    if spec.required:
        facts.append("required")
    text = f"{spec.key}: {', '.join(facts)}"
    return f"{text}\n{spec.description}" if spec.description else text


def json_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def _number(value: float) -> str:
    return f"{value:g}"


def tooltip_text(problems: list[Problem]) -> str:
    lines = []
    for problem in problems:
        label = "Error" if problem.is_error else "Warning"
        where = describe(problem.path) if problem.path else "script"
        lines.append(f"{label}: {problem.message} ({where})")
    return "\n".join(lines)


class FindBar(QWidget):
    """Find in the script: Enter / F3 next, Shift+Enter / Shift+F3 previous, Esc closes."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scriptFindBar")
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Find in script")
        self.field.setClearButtonEnabled(True)
        self.field.addAction(
            qtawesome.icon("mdi6.magnify"), QLineEdit.ActionPosition.LeadingPosition
        )
        self.case = QToolButton(self)
        self.case.setIcon(qtawesome.icon("mdi6.format-letter-case"))
        self.case.setCheckable(True)
        self.case.setAutoRaise(True)
        self.case.setToolTip("Match case")
        self.previous = QToolButton(self)
        self.previous.setIcon(qtawesome.icon("mdi6.arrow-up"))
        self.previous.setAutoRaise(True)
        self.previous.setToolTip("Previous match (Shift+Enter)")
        self.next = QToolButton(self)
        self.next.setIcon(qtawesome.icon("mdi6.arrow-down"))
        self.next.setAutoRaise(True)
        self.next.setToolTip("Next match (Enter)")
        self.count = QLabel(self)
        self.count.setMinimumWidth(self.fontMetrics().horizontalAdvance("No results") + 8)
        close = QToolButton(self)
        close.setIcon(qtawesome.icon("mdi6.close"))
        close.setAutoRaise(True)
        close.setToolTip("Close (Esc)")
        close.clicked.connect(self.close_bar)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(2)
        row.addWidget(self.field, 1)
        row.addWidget(self.case)
        row.addWidget(self.count)
        row.addWidget(self.previous)
        row.addWidget(self.next)
        row.addWidget(close)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.previous.click()
            else:
                self.next.click()
            return
        super().keyPressEvent(event)

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()


class ScriptEditorPanel(QWidget):
    """The Script dock. Construct with the document; it follows the document from then on.

    Actions for the window's menus: `find_action` (Ctrl+F), `find_next_action` (F3),
    `find_previous_action` (Shift+F3), `go_to_line_action` (Ctrl+G), `format_action`
    (Ctrl+Shift+I), `next_problem_action` (F8), `previous_problem_action` (Shift+F8).
    """

    #: the cursor moved (1-based line and column), for a status bar
    cursor_moved = Signal(int, int)

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.editor = JsonTextEdit(self)
        self.editor.setObjectName("scriptEditor")
        self.editor.setAccessibleName("Script (JSON)")
        self._shown = ""  # the Python text the editor shows (offsets refer to it)
        self._map = OffsetMap("")
        self._applying = False  # we are changing the editor's text: not the user typing
        # The user's edit, rebuilt from Qt's change reports (cheaper than reading 1 MB back);
        # None when it must be read back (see `_typed`).
        self._pending: str | None = None
        self._pending_exact = True
        self._moving = False  # we are moving the cursor: not the user
        self._own_selection: tuple[Path | None, Path | None] | None = None
        self._source_map: tuple[int, SourceMap] | None = None
        self._validation: Validation | None = None

        self._status = QLabel(self)
        self._status.setObjectName("scriptEditorStatus")
        self._status.setContentsMargins(6, 2, 6, 2)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        # Its text changes with every keystroke: it must never size the dock (a growing
        # minimum width made the window re-lay out its docks on each key).
        self._status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        status_row = QHBoxLayout()
        status_row.setContentsMargins(0, 0, 0, 0)
        status_row.addWidget(self._status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.find_bar = FindBar(self)
        self.find_bar.hide()
        layout.addWidget(self.find_bar)
        self.long_lines_bar = QWidget(self)
        self.long_lines_bar.setObjectName("scriptLongLines")
        self.long_lines_bar.setAutoFillBackground(True)
        self.long_lines_bar.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        info_icon = self._info_icon = QLabel(self.long_lines_bar)
        info = QLabel(
            "This script has very long lines: they are shown without colours and editing "
            "them is slow.",
            self.long_lines_bar,
        )
        info.setForegroundRole(QPalette.ColorRole.ToolTipText)
        info.setWordWrap(True)
        reformat = self._reformat_button = QToolButton(self.long_lines_bar)
        reformat.setText("Format JSON")
        reformat.setToolTip("Re-indent the script, one member per line (undoable)")
        reformat.clicked.connect(self.format_text)
        info_row = QHBoxLayout(self.long_lines_bar)
        info_row.setContentsMargins(6, 3, 6, 3)
        info_row.addWidget(info_icon)
        info_row.addWidget(info, 1)
        info_row.addWidget(reformat)
        self.long_lines_bar.hide()
        layout.addWidget(self.long_lines_bar)
        self._paint_info_icon()
        layout.addWidget(self.editor, 1)
        layout.addLayout(status_row)

        self._select_timer = QTimer(self)
        self._select_timer.setSingleShot(True)
        self._select_timer.setInterval(SELECT_DELAY_MS)
        self._select_timer.timeout.connect(self._select_at_cursor)

        self.format_action = QAction(qtawesome.icon("mdi6.code-json"), "Format JSON", self)
        self.format_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.format_action.setStatusTip("Re-indent the script with 2 spaces (undoable)")
        self.format_action.triggered.connect(self.format_text)
        self.next_problem_action = QAction(
            qtawesome.icon("mdi6.arrow-down-bold-circle-outline"), "Next Problem", self
        )
        self.next_problem_action.setShortcut(QKeySequence("F8"))
        self.next_problem_action.triggered.connect(lambda: self.go_to_problem(+1))
        self.previous_problem_action = QAction(
            qtawesome.icon("mdi6.arrow-up-bold-circle-outline"), "Previous Problem", self
        )
        self.previous_problem_action.setShortcut(QKeySequence("Shift+F8"))
        self.previous_problem_action.triggered.connect(lambda: self.go_to_problem(-1))
        self.find_action = QAction(qtawesome.icon("mdi6.magnify"), "Find in Script…", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self.show_find)
        self.find_next_action = QAction("Find Next", self)
        self.find_next_action.setShortcut(QKeySequence.StandardKey.FindNext)
        self.find_next_action.triggered.connect(lambda: self.find_text(+1))
        self.find_previous_action = QAction("Find Previous", self)
        self.find_previous_action.setShortcut(QKeySequence.StandardKey.FindPrevious)
        self.find_previous_action.triggered.connect(lambda: self.find_text(-1))
        self.go_to_line_action = QAction(
            qtawesome.icon("mdi6.format-list-numbered"), "Go to Line…", self
        )
        self.go_to_line_action.setShortcut(QKeySequence("Ctrl+G"))
        self.go_to_line_action.triggered.connect(self.ask_line)
        # Find, go to line and format while in this dock; F8 / Shift+F8 from anywhere in the
        # window (as in VS Code), while this dock is shown.
        local = (
            self.find_action,
            self.find_next_action,
            self.find_previous_action,
            self.go_to_line_action,
            self.format_action,
        )
        for action in local:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for action in (self.next_problem_action, self.previous_problem_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addActions([*local, self.next_problem_action, self.previous_problem_action])
        self.find_bar.next.clicked.connect(lambda: self.find_text(+1))
        self.find_bar.previous.clicked.connect(lambda: self.find_text(-1))
        self.find_bar.field.textChanged.connect(self._find_as_you_type)
        self.find_bar.case.toggled.connect(lambda _on: self._find_as_you_type())
        self.find_bar.closed.connect(lambda: self.editor.setFocus())

        self.editor.describe_key = self.key_help
        self.editor.complete_key = self.completion_at
        self._last_good: tuple[str, SourceMap] | None = None
        self._specs: dict[tuple[int, str, Any], list[FieldSpec]] = {}
        self.editor.document().contentsChange.connect(self._edited)
        self.editor.textChanged.connect(self._typed)
        self.editor.cursorPositionChanged.connect(self._cursor_moved)
        self.editor.undo_requested.connect(self._undo)
        self.editor.redo_requested.connect(self._redo)
        self.editor.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.editor.customContextMenuRequested.connect(self._context_menu)
        document.text_changed.connect(self._text_changed)
        document.validated.connect(self._validated)
        document.selection_changed.connect(self._selection_changed)

        self._show_text(document.text, keep_cursor=False)
        if document.validation is not None and document.validation.revision == document.revision:
            self._validated(document.validation)
        self._update_status()

    # ---- text in and out -------------------------------------------------------------------------

    @property
    def shown_text(self) -> str:
        return self._shown

    def _edited(self, position: int, removed: int, added: int) -> None:
        """Follow one change of the editor's text in a Python copy of it."""
        if self._applying or self.editor.formatting:
            return
        base = self._pending if self._pending is not None else self._shown
        document = self.editor.document()
        last = document.characterCount() - 1
        cursor = QTextCursor(document)
        cursor.setPosition(min(position, last))
        cursor.setPosition(min(position + added, last), QTextCursor.MoveMode.KeepAnchor)
        inserted = cursor.selectedText().replace("\u2029", "\n")
        if not (self._map.identity and OffsetMap(inserted).identity):
            self._pending_exact = False  # Qt positions are not Python offsets here
        self._pending = base[:position] + inserted + base[position + removed :]

    def _typed(self) -> None:
        if self._applying or self.editor.formatting:
            return
        text, self._pending = self._pending, None
        exact, self._pending_exact = self._pending_exact, True
        if text is None or not exact or len(text) != self.editor.document().characterCount() - 1:
            text = self.editor.document().toRawText().replace("\u2029", "\n")
        if text == self._shown:
            return
        self._shown = text
        self._map = OffsetMap(text)
        self.document.set_text(text)

    def _text_changed(self, origin: str) -> None:
        # Our own typing arrives as "text" with the very text we sent; anyone else calling
        # `set_text` (Format JSON, a tool) also says "text", so compare rather than trust it.
        text = self.document.text
        if text is self._shown or text == self._shown:
            return
        self._show_text(text, keep_cursor=origin != "load")

    def _show_text(self, text: str, keep_cursor: bool) -> None:
        """Make the editor show `text`, replacing only what differs (no undo step anywhere)."""
        old = self._shown
        if text == old and self.editor.document().characterCount() > 1:
            return
        self._applying = True
        self._moving = True
        changed = (0, len(text))
        try:
            if not keep_cursor or not old:
                self.editor.setPlainText(text)
            else:
                changed = self._replace_middle(old, text)
        finally:
            self._applying = False
            self._moving = False
        self._shown = text
        self._map = OffsetMap(text)
        if self.long_lines_bar.isHidden():
            # Only the lines around the change can have become long (a whole-text scan of
            # 1 MB costs 3 ms; a one-field edit's lines cost nothing).
            start = text.rfind("\n", 0, changed[0]) + 1
            end = text.find("\n", changed[1])
            region = text[start : len(text) if end < 0 else end]
        else:
            region = text
        self.long_lines_bar.setVisible(max(map(len, region.split("\n"))) > LONG_LINE)
        self._reformat_button.setEnabled(self.document.parse_error is None)
        if not keep_cursor or not old:
            # The old marks' cursors collapsed with the old text; the next validation brings
            # new ones. (After a middle replacement they follow the text until then.)
            self.editor.set_marks([])

    def _replace_middle(self, old: str, new: str) -> tuple[int, int]:
        """Replace the part of `old` that differs from `new`; returns that part's range in
        `new` (Python offsets)."""
        prefix = common_prefix(old, new)
        suffix = common_suffix(old, new, prefix)
        old_map = self._map
        start = old_map.to_qt(prefix)
        end = old_map.to_qt(len(old) - suffix)
        document = self.editor.document()
        # Keep the line at the top of the view there, even when lines change above it.
        top = QTextCursor(document)
        top.setPosition(self.editor.firstVisibleBlock().position())
        bar = self.editor.verticalScrollBar()
        top_line, scrolled = top.blockNumber(), bar.value()
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(new[prefix : len(new) - suffix])
        cursor.endEditBlock()
        if top.blockNumber() != top_line:
            bar.setValue(scrolled + top.blockNumber() - top_line)
        return prefix, len(new) - suffix

    def format_text(self) -> None:
        """Re-indent the script canonically (one undo step), when it is JSON."""
        if self.document.parse_error is not None:
            return
        self.document.set_text(dumps(self.document.data), "Format JSON")

    def _undo(self) -> None:
        self.document.undo_stack.undo()

    def _redo(self) -> None:
        self.document.undo_stack.redo()

    # ---- problems --------------------------------------------------------------------------------

    def _validated(self, validation: Validation) -> None:
        if validation.revision != self.document.revision or validation.report.text != self._shown:
            return
        self._validation = validation
        source = validation.report.source_map
        if source is not None:
            self._last_good = (validation.report.text, source)
        document = self.editor.document()
        last = max(0, document.characterCount() - 1)
        marks = []
        to_qt = self._map.to_qt
        text_end = len(self._shown.rstrip())
        for problem, where in validation.located:
            start = min(to_qt(where.start), last)
            end = min(to_qt(where.end), last)
            if end <= start and where.start >= text_end and text_end:
                # At the end of the text (a missing closing bracket): mark the last character
                # there is, not an empty line after it.
                start = to_qt(text_end - 1)
                end = start + 1
            block = document.findBlock(start)
            line_end = block.position() + block.length() - 1
            if end <= start:  # an empty range: mark the character there (or the one before)
                if start >= line_end and start > block.position():
                    start -= 1
                end = min(last, start + 1)
            if end > line_end:  # a multi-line range: underline its first line only
                end = max(line_end, start + 1)
            cursor = QTextCursor(document)
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            marks.append(Mark(cursor, problem))
        self.editor.set_marks(marks)
        self._update_status()

    def go_to_problem(self, step: int) -> None:
        """Move the cursor to the next (+1) or previous (-1) problem, wrapping around."""
        marks = sorted(self.editor.marks, key=lambda m: m.cursor.selectionStart())
        if not marks:
            return
        here = self.editor.textCursor().position()
        if step > 0:
            target = next((m for m in marks if m.cursor.selectionStart() > here), marks[0])
        else:
            target = next(
                (m for m in reversed(marks) if m.cursor.selectionStart() < here), marks[-1]
            )
        self._move_cursor(target.cursor.selectionStart())
        self._select_timer.start()  # the scene list and inspector follow, without focus
        QToolTip.showText(
            self.editor.viewport().mapToGlobal(self.editor.cursorRect().bottomLeft()),
            tooltip_text([target.problem]),
            self.editor.viewport(),
        )

    # ---- selection -------------------------------------------------------------------------------

    def _cursor_moved(self) -> None:
        self._update_status()
        if self._moving:
            return
        self._select_timer.start()

    def _select_at_cursor(self) -> None:
        if self.document.parse_error is not None or self._shown != self.document.text:
            return
        source = self._source()
        if source is None:
            return
        offset = self._map.to_python(self.editor.textCursor().position())
        owner = owner_path(source.path_at(offset))
        if owner is None or owner == self.document.selection[0]:
            return
        self._own_selection = (owner, None)
        try:
            self.document.select(owner)
        finally:
            self._own_selection = None

    def _selection_changed(self, path: Path | None, focus: Path | None) -> None:
        if self._own_selection is not None and self._own_selection == (path, focus):
            return
        target = focus if focus is not None else path
        if target is None:
            return
        offset = self._offset_of(target, is_focus=focus is not None)
        if offset is not None:
            self._select_timer.stop()
            self._move_cursor(self._map.to_qt(offset))

    def _offset_of(self, path: Path, is_focus: bool) -> int | None:
        validation = self._validation
        if is_focus and validation is not None and validation.revision == self.document.revision:
            problems = validation.at(path)
            problems.sort(key=lambda p: (not p.is_error, p.code != "INVALID_JSON"))
            for problem in problems:
                where = validation.location(problem)
                if where is not None:
                    return where.start
        if self.document.parse_error is not None or self._shown != self.document.text:
            return None
        source = self._source()
        if source is None:
            return None
        _found, span = source.locate(path)
        return None if span is None else span.start

    def _source(self) -> SourceMap | None:
        revision = self.document.revision
        validation = self._validation
        if validation is not None and validation.revision == revision:
            return validation.report.source_map
        if self._source_map is None or self._source_map[0] != revision:
            self._source_map = (revision, SourceMap(self.document.text, data=self.document.data))
        return self._source_map[1]

    def _move_cursor(self, position: int) -> None:
        position = max(0, min(position, self.editor.document().characterCount() - 1))
        cursor = self.editor.textCursor()
        cursor.setPosition(position)
        self._moving = True
        try:
            self.editor.setTextCursor(cursor)
        finally:
            self._moving = False
        self._center_if_hidden()

    def _center_if_hidden(self) -> None:
        rect = self.editor.cursorRect()
        viewport = self.editor.viewport().rect()
        if not viewport.contains(rect.topLeft()) or not viewport.contains(rect.bottomLeft()):
            self.editor.centerCursor()

    # ---- what a key means --------------------------------------------------------------------

    def key_help(self, position: int) -> str:
        """The schema's words for the key at a Qt position (type, range, default, description),
        or "" when the position is not on a key the schema describes."""
        if self.document.parse_error is not None or self._shown != self.document.text:
            return ""
        source = self._source()
        if source is None:
            return ""
        offset = self._map.to_python(position)
        path = source.path_at(offset)
        span = source.span(path) if path else None
        if span is None or span.key_start is None or span.key_end is None:
            return ""
        if not span.key_start <= offset <= span.key_end:
            return ""
        spec = self._field_spec(path)
        return "" if spec is None else field_help(spec)

    def _field_spec(self, path: Path) -> FieldSpec | None:
        key = path[-1]
        if not isinstance(key, str):
            return None
        return next((spec for spec in self._object_specs(path[:-1]) if spec.key == key), None)

    # ---- completing keys -------------------------------------------------------------------

    def completion_at(self, position: int) -> Completion | None:
        """The keys the schema allows where the cursor is, if a key goes there: in an object
        of the movie, a scene, an element or a transition, after `{` or `,`, either before
        any quote or inside the key being typed (with nothing after the cursor in it)."""
        text = self._shown
        if text != self.document.text:
            return None
        offset = self._map.to_python(position)
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        column = offset - line_start
        after_key = line[column:]
        if _inside_string(line, column):
            quote = line_start + _string_start(line, column)
            prefix = text[quote + 1 : offset]
            rest = after_key.split('"', 1)
            if rest[0]:
                return None  # in the middle of a word: no completion
            end, tail = offset, ""
            if after_key.startswith('"') and after_key[1:].lstrip()[:1] in ("", ":", ",", "}"):
                # the quote closing this key (else it opens the next member's key)
                end, tail = offset + 1, after_key[1:].lstrip()
        else:
            quote, prefix, end, tail = offset, "", offset, after_key.lstrip()
        before = quote - 1
        while before >= 0 and text[before] in " \t\r\n":
            before -= 1
        if before < 0 or text[before] not in "{,":
            return None
        opener = _enclosing_opener(text, quote)
        if opener is None or text[opener] != "{":
            return None
        path = self._path_of_object(opener)
        if path is None:
            return None
        specs = self._object_specs(path)
        if not specs:
            return None
        present = self.document.value(path)
        taken = set(present) if isinstance(present, dict) else set()
        keys = [spec.key for spec in specs if spec.key not in taken or spec.key == prefix]
        values = {spec.key: value_template(spec) for spec in specs}
        to_qt = self._map.to_qt
        key_only = tail.startswith(":")
        following = text[end : end + 400].lstrip()
        return Completion(
            keys,
            prefix,
            to_qt(quote),
            to_qt(end),
            values,
            key_only=key_only,
            comma=not key_only and following.startswith('"'),
        )

    def _path_of_object(self, opener: int) -> Path | None:
        """The path of the object whose `{` is at `opener`, from the current text when it is
        JSON, else from the last text that was (when everything up to there is unchanged)."""
        text = self._shown
        if self.document.parse_error is None:
            source = self._source()
            good_text = text
        elif self._last_good is not None:
            good_text, source = self._last_good
            if good_text[: opener + 1] != text[: opener + 1]:
                return None
        else:
            return None
        if source is None:
            return None
        path = source.path_at(opener)
        span = source.span(path) if path else source.span(())
        if span is None or span.value_start != opener:
            return None
        del good_text
        return path

    def _object_specs(self, path: Path) -> list[FieldSpec]:
        if path == ():
            return self._specs_of("movie", None)
        if len(path) == 2 and path[0] == "scenes" and isinstance(path[1], int):
            return self._specs_of("scene", None)
        if len(path) == 3 and path[0] == "scenes" and path[2] == "transition":
            holder = next((s for s in self._specs_of("scene", None) if s.key == "transition"), None)
            return list(holder.children) if holder is not None else []
        if len(path) == 4 and path[0] == "scenes" and path[2] == "elements":
            kind = self.document.value((*path, "type"))
            return self._specs_of("element", kind if isinstance(kind, str) else None)
        return []

    def _specs_of(self, kind: str, element_type: str | None) -> list[FieldSpec]:
        schema = self.document.schema
        cache_key = (id(schema.document), kind, element_type)
        specs = self._specs.get(cache_key)
        if specs is None:
            specs = self._specs[cache_key] = field_specs(schema.document, kind, element_type)
        return specs

    # ---- find and go to line ------------------------------------------------------------------

    def show_find(self) -> None:
        """Open the find bar with the selected text (if any) and select its text."""
        selected = self.editor.textCursor().selectedText()
        if selected and "\u2029" not in selected:
            self.find_bar.field.setText(selected)
        self.find_bar.show()
        self.find_bar.field.setFocus()
        self.find_bar.field.selectAll()

    def _haystack(self) -> tuple[str, str]:
        needle = self.find_bar.field.text()
        if self.find_bar.case.isChecked():
            return self._shown, needle
        return self._shown.lower(), needle.lower()

    def find_text(self, step: int, from_start_of_selection: bool = False) -> bool:
        """Select the next (+1) or previous (-1) match, wrapping around; False when none."""
        text, needle = self._haystack()
        if not needle:
            self.find_bar.count.setText("")
            return False
        cursor = self.editor.textCursor()
        to_python = self._map.to_python
        if step > 0:
            here = to_python(
                cursor.selectionStart() if from_start_of_selection else cursor.selectionEnd()
            )
            at = text.find(needle, here)
            if at < 0:
                at = text.find(needle)
        else:
            at = text.rfind(needle, 0, max(0, to_python(cursor.selectionStart())))
            if at < 0:
                at = text.rfind(needle)
        if at < 0:
            self.find_bar.count.setText("No results")
            return False
        start, end = self._map.to_qt(at), self._map.to_qt(at + len(needle))
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)
        self._center_if_hidden()
        total = text.count(needle)
        self.find_bar.count.setText(f"{text.count(needle, 0, at) + 1} of {total}")
        return True

    def _find_as_you_type(self) -> None:
        self.find_text(+1, from_start_of_selection=True)

    def ask_line(self) -> None:
        lines = self.editor.blockCount()
        current = self.editor.textCursor().blockNumber() + 1
        line, ok = QInputDialog.getInt(self, "Go to Line", f"Line (1–{lines}):", current, 1, lines)
        if ok:
            self.go_to_line(line)

    def go_to_line(self, line: int, column: int = 1) -> None:
        """Put the cursor on a 1-based line and column (clamped) and show it."""
        document = self.editor.document()
        block = document.findBlockByNumber(max(0, min(line - 1, document.blockCount() - 1)))
        cursor = self.editor.textCursor()
        cursor.setPosition(block.position() + max(0, min(column - 1, block.length() - 1)))
        self.editor.setTextCursor(cursor)
        self._center_if_hidden()
        self.editor.setFocus()

    # ---- status and menu -------------------------------------------------------------------------

    def _paint_info_icon(self) -> None:
        color = self.palette().color(QPalette.ColorRole.ToolTipText)
        icon = qtawesome.icon("mdi6.information-outline", color=color)
        self._info_icon.setPixmap(icon.pixmap(16, 16))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_info_icon()

    def _update_status(self) -> None:
        cursor = self.editor.textCursor()
        line, column = cursor.blockNumber() + 1, cursor.positionInBlock() + 1
        self.cursor_moved.emit(line, column)
        parts = [f"Ln {line}, Col {column}"]
        validation = self._validation
        if self.document.parse_error is not None:
            parts.append("Not valid JSON: the other views show the last valid script")
        elif validation is not None:
            errors = sum(1 for p in validation.problems if p.is_error)
            warnings = len(validation.problems) - errors
            if errors or warnings:
                parts.append(_count(errors, "error") + ", " + _count(warnings, "warning"))
            else:
                parts.append("No problems")
        self._status.setText("   ·   ".join(parts))

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        stack = self.document.undo_stack
        undo = menu.addAction(qtawesome.icon("mdi6.undo"), _undo_label("Undo", stack.undoText()))
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setEnabled(stack.canUndo())
        undo.triggered.connect(self._undo)
        redo = menu.addAction(qtawesome.icon("mdi6.redo"), _undo_label("Redo", stack.redoText()))
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        redo.setEnabled(stack.canRedo())
        redo.triggered.connect(self._redo)
        menu.addSeparator()
        has_selection = self.editor.textCursor().hasSelection()
        for icon, label, key, slot, enabled in (
            (
                "mdi6.content-cut",
                "Cut",
                QKeySequence.StandardKey.Cut,
                self.editor.cut,
                has_selection,
            ),
            (
                "mdi6.content-copy",
                "Copy",
                QKeySequence.StandardKey.Copy,
                self.editor.copy,
                has_selection,
            ),
            (
                "mdi6.content-paste",
                "Paste",
                QKeySequence.StandardKey.Paste,
                self.editor.paste,
                self.editor.canPaste(),
            ),
        ):
            action = menu.addAction(qtawesome.icon(icon), label)
            action.setShortcut(key)
            action.setEnabled(enabled)
            action.triggered.connect(slot)
        select_all = menu.addAction("Select All")
        select_all.setShortcut(QKeySequence.StandardKey.SelectAll)
        select_all.triggered.connect(self.editor.selectAll)
        menu.addSeparator()
        menu.addAction(self.find_action)
        menu.addAction(self.go_to_line_action)
        self.format_action.setEnabled(self.document.parse_error is None)
        menu.addAction(self.format_action)
        menu.addAction(self.next_problem_action)
        menu.addAction(self.previous_problem_action)
        menu.exec(self.editor.viewport().mapToGlobal(pos))
        menu.deleteLater()


def _undo_label(verb: str, text: str) -> str:
    return f"{verb} {text}" if text else verb


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of two strings, by halving (slice compares run in C)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low]; a[:high] != b[:high]
    while high - low > 64:
        mid = (low + high) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid
    while low < high and a[low] == b[low]:
        low += 1
    return low


def common_suffix(a: str, b: str, prefix: int) -> int:
    """Length of the common suffix that does not overlap the first `prefix` characters."""
    n = min(len(a), len(b)) - prefix
    if n <= 0:
        return 0
    la, lb = len(a), len(b)
    if a[la - n :] == b[lb - n :]:
        return n
    low, high = 0, n
    while high - low > 64:
        mid = (low + high) // 2
        if a[la - mid : la - low] == b[lb - mid : lb - low]:
            low = mid
        else:
            high = mid
    while low < high and a[la - low - 1] == b[lb - low - 1]:
        low += 1
    return low
