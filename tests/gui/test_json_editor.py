"""The Script dock: typing edits the document, problems are underlined at their exact range,
changes from elsewhere replace the text without undo steps of its own, cursor ↔ selection."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent, QKeyEvent, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from app.script.problems import INVALID_JSON
from app.studio.document import ScriptDocument, dumps
from app.studio.json_editor import (
    ScriptEditorPanel,
    common_prefix,
    common_suffix,
    matching_bracket,
    owner_path,
)
from app.studio.json_highlighter import OffsetMap
from tests.gui.support import text_scenes_script as _script


@pytest.fixture
def doc(qtbot):
    document = ScriptDocument(dumps(_script()))
    yield document
    document.close()


@pytest.fixture
def panel(doc, qtbot):
    widget = ScriptEditorPanel(doc)
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _put_cursor(panel: ScriptEditorPanel, offset: int) -> None:
    cursor = panel.editor.textCursor()
    cursor.setPosition(offset)
    panel.editor.setTextCursor(cursor)


def _mark_ranges(panel: ScriptEditorPanel) -> list[tuple[int, int, str]]:
    return [
        (m.cursor.selectionStart(), m.cursor.selectionEnd(), m.problem.message)
        for m in panel.editor.marks
    ]


def test_editor_shows_the_document_text_and_keeps_no_undo_history(panel, doc):
    assert panel.editor.toPlainText() == doc.text
    assert not panel.editor.isUndoRedoEnabled()
    assert not panel.editor.document().isUndoRedoEnabled()


def test_typing_updates_the_document_and_its_validation(panel, doc, qtbot):
    offset = doc.text.index('"S1"') + 3
    _put_cursor(panel, offset)
    panel.editor.setFocus()
    with qtbot.waitSignal(doc.validated):
        QTest.keyClicks(panel.editor, "x")
    assert doc.data["scenes"][1]["name"] == "S1x"
    assert doc.text == panel.editor.toPlainText()
    assert doc.validation.revision == doc.revision
    assert doc.undo_stack.undoText() == "Edit JSON"


def test_invalid_json_is_underlined_at_its_line_and_column(panel, doc, qtbot):
    good = doc.data
    offset = doc.text.index('"S0",') + len('"S0"')
    _put_cursor(panel, offset)
    panel.editor.setFocus()
    with qtbot.waitSignal(doc.validated) as got:
        QTest.keyClicks(panel.editor, ",")  # "S0",, : not JSON
    validation = got.args[0]
    assert doc.data is good  # the other views stay on the last good data
    (problem,) = validation.problems
    assert problem.code == INVALID_JSON
    where = validation.location(problem)
    ((start, end, message),) = _mark_ranges(panel)
    assert message == problem.message
    cursor = QTextCursor(panel.editor.document())
    cursor.setPosition(start)
    assert (cursor.blockNumber() + 1, cursor.positionInBlock() + 1) == (where.line, where.column)
    assert (start, end) == (where.start, where.end)
    assert "Not valid JSON" in panel._status.text()


def test_bad_value_is_underlined_at_its_exact_range_with_the_message_as_tooltip(panel, doc, qtbot):
    with qtbot.waitSignal(doc.validated) as got:
        doc.set_value(("scenes", 1, "duration"), "long")
    validation = got.args[0]
    (problem,) = validation.at(("scenes", 1, "duration"))
    where = validation.location(problem)
    assert (where.start, where.end, problem.message) in _mark_ranges(panel)
    assert panel.editor.toPlainText()[where.start : where.end] == '"duration": "long"'
    # The underline is a wavy red extra selection over that range.
    underlines = [
        s
        for s in panel.editor.extraSelections()
        if s.format.underlineStyle() == s.format.UnderlineStyle.WaveUnderline
    ]
    assert [(s.cursor.selectionStart(), s.cursor.selectionEnd()) for s in underlines] == [
        (where.start, where.end)
    ]
    # The gutter marks the line; hovering the range shows the message.
    assert panel.editor.line_markers() == {where.line - 1: "error"}
    cursor = QTextCursor(panel.editor.document())
    cursor.setPosition(where.start + 3)
    point = panel.editor.cursorRect(cursor).center()
    assert panel.editor.problems_at(panel.editor.cursorForPosition(point).position()) == [problem]
    QToolTip.hideText()
    viewport = panel.editor.viewport()
    QApplication.sendEvent(
        viewport, QHelpEvent(QEvent.Type.ToolTip, point, viewport.mapToGlobal(point))
    )
    qtbot.waitUntil(lambda: QToolTip.isVisible() and problem.message in QToolTip.text())


def test_warnings_are_amber_and_errors_red(panel, doc, qtbot):
    with qtbot.waitSignal(doc.validated):
        doc.set_variables({"unused": 1})  # a warning
        doc.set_value(("scenes", 1, "duration"), -4)  # an error
    colors = {}
    for selection in panel.editor.extraSelections():
        for mark in panel.editor.marks:
            if selection.cursor == mark.cursor:
                colors[mark.problem.severity] = selection.format.underlineColor().name()
    assert set(colors) == {"error", "warning"}
    assert colors["error"] != colors["warning"]


def test_external_edit_replaces_text_without_undo_and_keeps_the_cursor_line(panel, doc):
    text = doc.text
    line = text[: text.index('"hello 1"')].count("\n")
    _put_cursor(panel, text.index('"hello 1"') + 2)
    column = panel.editor.textCursor().positionInBlock()
    count = doc.undo_stack.count()
    doc.set_value(("scenes", 0, "name"), "A much longer name for scene one")
    assert doc.undo_stack.count() == count + 1  # only the document's own step
    assert panel.editor.toPlainText() == doc.text
    cursor = panel.editor.textCursor()
    assert (cursor.blockNumber(), cursor.positionInBlock()) == (line, column)
    assert not panel.editor.document().isUndoAvailable()
    doc.undo_stack.undo()
    assert panel.editor.toPlainText() == text
    assert panel.editor.textCursor().blockNumber() == line


def test_ctrl_z_in_the_editor_is_the_documents_undo(panel, doc, qtbot):
    original = doc.text
    doc.set_value(("width",), 1280)
    _put_cursor(panel, doc.text.index('"S0"') + 3)
    panel.editor.setFocus()
    QTest.keyClicks(panel.editor, "abc")
    assert doc.data["scenes"][0]["name"] == "S0abc"
    QTest.keyClick(panel.editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.data["scenes"][0]["name"] == "S0"  # the typing, one step
    assert panel.editor.toPlainText() == doc.text
    QTest.keyClick(panel.editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.editor.toPlainText() == original  # then the data edit
    QTest.keyClick(
        panel.editor,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert doc.data["width"] == 1280


def test_enter_auto_indents_and_tab_inserts_two_spaces(panel, doc):
    doc.set_text('{\n  "scenes": []\n}\n')
    offset = doc.text.index("[") + 1
    _put_cursor(panel, offset)
    panel.editor.setFocus()
    QTest.keyClick(panel.editor, Qt.Key.Key_Return)
    assert doc.text == '{\n  "scenes": [\n    \n  ]\n}\n'
    assert panel.editor.textCursor().positionInBlock() == 4
    QTest.keyClick(panel.editor, Qt.Key.Key_Tab)
    assert doc.text == '{\n  "scenes": [\n      \n  ]\n}\n'


def test_bracket_matching_highlights_the_pair(panel, doc):
    text = doc.text
    opener = text.index("[")  # the scenes list
    _put_cursor(panel, opener)
    match = matching_bracket(text, opener)
    assert text[match] == "]"
    positions = {
        s.cursor.selectionStart()
        for s in panel.editor.extraSelections()
        if s.cursor.hasSelection() and s.cursor.selectedText() in "[]"
    }
    assert positions == {opener, match}
    assert matching_bracket(text, match) == opener
    assert matching_bracket('{"a": "}"}', 0) == 9  # brackets inside strings do not count
    assert matching_bracket('{"a": "}"}', 9) == 0
    assert matching_bracket('{"a": "}"}', 7) is None  # a bracket inside a string
    assert matching_bracket('["a{b", 1]', 3) is None
    assert matching_bracket("[1, 2}", 0) is None  # mismatched
    assert matching_bracket("[[1]", 0) is None  # unclosed


def test_selection_elsewhere_moves_the_cursor_to_the_focused_range(panel, doc, qtbot):
    doc.set_value(("scenes", 1, "duration"), "long")
    doc.validate_now()
    doc.select(("scenes", 1), ("scenes", 1, "duration"))
    assert panel.editor.textCursor().position() == doc.text.index('"duration": "long"')
    doc.select(("scenes", 0, "elements", 0))
    element = doc.text.index('{\n          "type"')
    assert panel.editor.textCursor().position() == element


def test_moving_the_cursor_into_an_element_selects_it_once(panel, doc, qtbot):
    panel.editor.setFocus()
    seen = []
    doc.selection_changed.connect(lambda path, focus: seen.append((path, focus)))
    _put_cursor(panel, doc.text.index('"hello 1"') + 1)
    qtbot.waitUntil(lambda: seen == [(("scenes", 1, "elements", 0), None)])
    # The editor does not react to its own selection by moving the cursor.
    assert panel.editor.textCursor().position() == doc.text.index('"hello 1"') + 1
    _put_cursor(panel, doc.text.index('"hello 1"') + 2)
    qtbot.wait(400)
    assert len(seen) == 1  # same element: no new selection


def test_next_problem_walks_the_problems(panel, doc):
    data = _script(3)
    data["scenes"][0]["duration"] = "a"
    data["scenes"][2]["duration"] = "b"
    doc.set_text(dumps(data))
    doc.validate_now()
    _put_cursor(panel, 0)
    panel.go_to_problem(+1)
    first = panel.editor.textCursor().position()
    panel.go_to_problem(+1)
    second = panel.editor.textCursor().position()
    assert doc.text[first:].startswith('"duration": "a"')
    assert doc.text[second:].startswith('"duration": "b"')
    panel.go_to_problem(+1)
    assert panel.editor.textCursor().position() == first  # wraps around


def test_format_action_reindents_as_one_undo_step(panel, doc):
    doc.set_text('{"width": 640, "height": 360, "scenes": []}')
    panel.format_action.trigger()
    assert doc.text == dumps({"width": 640, "height": 360, "scenes": []})
    assert doc.undo_stack.undoText() == "Format JSON"
    assert panel.editor.toPlainText() == doc.text


def test_load_of_a_crlf_file_maps_problem_offsets_to_the_right_characters(panel, doc, qtbot):
    data = {"width": "wide", "scenes": [{"name": "🎬🎬", "duration": "long"}]}
    text = json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n")
    doc.load(text, None)
    doc.validate_now()
    selected = {m.cursor.selectedText() for m in panel.editor.marks}
    assert '"width": "wide"' in selected
    assert '"duration": "long"' in selected  # after two astral characters and CRLFs


def test_offset_map_and_common_ends():
    text = "a\r\nb🎬c"
    mapping = OffsetMap(text)
    assert [mapping.to_qt(i) for i in (0, 1, 3, 4, 5, 6)] == [0, 1, 2, 3, 5, 6]
    assert [mapping.to_python(q) for q in (0, 1, 2, 3, 5, 6)] == [0, 1, 3, 4, 5, 6]
    assert OffsetMap("plain").identity
    a, b = "x" * 500 + "abc" + "y" * 700, "x" * 500 + "aXYc" + "y" * 700
    prefix = common_prefix(a, b)
    assert prefix == 501
    assert common_suffix(a, b, prefix) == 701
    assert common_suffix("aa", "aaa", common_prefix("aa", "aaa")) == 0


def test_owner_path_picks_the_scene_or_element():
    assert owner_path(("scenes", 2, "elements", 1, "font_size")) == ("scenes", 2, "elements", 1)
    assert owner_path(("scenes", 2, "duration")) == ("scenes", 2)
    assert owner_path(("width",)) == ()
    assert owner_path(("scenes",)) is None


def test_gutter_is_wide_enough_for_line_numbers_and_markers(panel):
    width = panel.editor.gutter_width()
    digits = panel.editor.fontMetrics().horizontalAdvance("999")
    assert width >= digits + panel.editor._marker_size()
    assert panel.editor.viewportMargins().left() == width


def test_every_kind_of_edit_reaches_the_document_exactly(panel, doc):
    editor = panel.editor
    editor.setFocus()

    def raw() -> str:
        return editor.document().toRawText().replace("\u2029", "\n")

    _put_cursor(panel, doc.text.index('"S0"') + 1)
    QTest.keyClicks(editor, "Ab")
    assert doc.text == raw()
    # a selection across lines, deleted
    cursor = editor.textCursor()
    cursor.setPosition(doc.text.index('"width"'))
    cursor.setPosition(doc.text.index('"scenes"'), QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    QTest.keyClick(editor, Qt.Key.Key_Delete)
    assert doc.text == raw() and '"width"' not in doc.text
    # a multi-line insert (what a paste does), then Enter with auto-indent, Backspace joins
    editor.insertPlainText('"height": 360,\n  "width": 640,\n  ')
    assert doc.text == raw() and doc.data["width"] == 640
    QTest.keyClick(editor, Qt.Key.Key_Return)
    QTest.keyClick(editor, Qt.Key.Key_Backspace)
    QTest.keyClick(editor, Qt.Key.Key_Backspace)
    assert doc.text == raw()
    # characters Qt counts as two positions (it reads the text back then)
    _put_cursor(panel, doc.text.index('"AbS0"') + 1)
    for char in "🎬é":  # typed as key events with text (QTest only types Latin-1 keys)
        event = QKeyEvent(
            QEvent.Type.KeyPress, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char
        )
        QApplication.sendEvent(editor, event)
    assert doc.text == raw() and doc.data["scenes"][0]["name"] == "🎬éAbS0"
    QTest.keyClicks(editor, "z")
    assert doc.text == raw() and doc.data["scenes"][0]["name"] == "🎬ézAbS0"
    # a block of lines indented with Tab and back with Shift+Tab
    cursor = editor.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(len(doc.text) - 1, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    QTest.keyClick(editor, Qt.Key.Key_Tab)
    assert doc.text == raw() and doc.text.startswith("  {")
    QTest.keyClick(editor, Qt.Key.Key_Backtab)
    assert doc.text == raw() and doc.text.startswith("{")
    assert doc.parse_error is None


def test_find_bar_finds_matches_wraps_and_counts(panel, doc, qtbot):
    panel.editor.setFocus()
    QTest.keyClick(panel.editor, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert panel.find_bar.isVisible()
    assert panel.find_bar.field.hasFocus()
    QTest.keyClicks(panel.find_bar.field, "HELLO")  # case-insensitive by default
    first = doc.text.index("hello 0")
    cursor = panel.editor.textCursor()
    assert (cursor.selectionStart(), cursor.selectionEnd()) == (first, first + 5)
    assert panel.find_bar.count.text() == "1 of 2"
    QTest.keyClick(panel.find_bar.field, Qt.Key.Key_Return)
    assert panel.editor.textCursor().selectionStart() == doc.text.index("hello 1")
    assert panel.find_bar.count.text() == "2 of 2"
    QTest.keyClick(panel.find_bar.field, Qt.Key.Key_Return)  # wraps to the first
    assert panel.editor.textCursor().selectionStart() == first
    QTest.keyClick(panel.find_bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert panel.editor.textCursor().selectionStart() == doc.text.index("hello 1")
    panel.find_bar.case.setChecked(True)  # HELLO with matching case: none
    assert panel.find_bar.count.text() == "No results"
    QTest.keyClick(panel.find_bar.field, Qt.Key.Key_Escape)
    assert not panel.find_bar.isVisible()
    assert doc.undo_stack.count() == 0  # finding never edits


def test_go_to_line_puts_the_cursor_on_that_line(panel, doc):
    panel.go_to_line(5, 3)
    cursor = panel.editor.textCursor()
    assert (cursor.blockNumber(), cursor.positionInBlock()) == (4, 2)
    panel.go_to_line(10_000)
    assert panel.editor.textCursor().blockNumber() == panel.editor.blockCount() - 1


def test_lines_inserted_above_the_view_do_not_move_what_is_shown(qtbot):
    document = ScriptDocument(dumps(_script(60)))
    try:
        widget = ScriptEditorPanel(document)
        qtbot.addWidget(widget)
        widget.resize(600, 300)
        widget.show()
        qtbot.waitExposed(widget)
        editor = widget.editor
        editor.verticalScrollBar().setValue(400)
        shown = editor.firstVisibleBlock().text()
        _put_cursor(widget, editor.firstVisibleBlock().position())
        document.insert(("scenes", 1), {"name": "New", "duration": 1}, "Add scene")
        assert editor.firstVisibleBlock().text() == shown
        document.undo_stack.undo()
        assert editor.firstVisibleBlock().text() == shown
    finally:
        document.close()


def test_text_cut_short_is_marked_on_its_last_line(panel, doc, qtbot):
    with qtbot.waitSignal(doc.validated) as got:
        doc.set_text(doc.text.rstrip()[:-1])  # the closing brace is gone
    (problem,) = got.args[0].problems
    assert problem.code == INVALID_JSON
    ((start, end, _),) = _mark_ranges(panel)
    assert (start, end) == (len(doc.text.rstrip()) - 1, len(doc.text.rstrip()))
    assert doc.text[start] == "]"  # the last character there is, not an empty line
    line = panel.editor.document().findBlock(start).blockNumber()
    assert panel.editor.line_markers() == {line: "error"}


def _key_colour(panel: ScriptEditorPanel) -> str:
    block = panel.editor.document().findBlockByNumber(1)  # '  "width": 640,'
    (first, *_rest) = block.layout().formats()
    return first.format.foreground().color().name()


def test_colours_follow_a_palette_change(panel, qtbot):
    from PySide6.QtGui import QColor, QPalette

    from app.studio.json_highlighter import DARK, LIGHT

    assert _key_colour(panel) == LIGHT.key
    dark = QPalette(panel.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#d4d4d4"))
    panel.setPalette(dark)
    panel.editor.viewport().repaint()
    assert _key_colour(panel) == DARK.key


def test_gutter_marker_tooltip_lists_the_problems_of_its_line(panel, doc, qtbot):
    with qtbot.waitSignal(doc.validated):
        doc.set_value(("scenes", 0, "duration"), "soon")
    line = doc.text[: doc.text.index('"duration": "soon"')].count("\n")
    block = panel.editor.document().findBlockByNumber(line)
    top = panel.editor.blockBoundingGeometry(block).translated(panel.editor.contentOffset()).top()
    text = panel.editor.gutter_tooltip(int(top) + 2)
    assert text == "Error: Expected number, received string (scene 1 › duration)"
    assert panel.editor.gutter_tooltip(0) == ""


def test_a_closing_bracket_on_a_blank_line_goes_one_level_out(panel, doc):
    doc.set_text('{\n  "scenes": [\n    \n}\n')
    _put_cursor(panel, doc.text.index("[\n") + 6)  # end of the blank, 4-space line
    panel.editor.setFocus()
    QTest.keyClicks(panel.editor, "]")
    assert doc.text == '{\n  "scenes": [\n  ]\n}\n'
    assert doc.parse_error is None


def test_zooming_the_font_widens_the_gutter(panel):
    before = panel.editor.gutter_width()
    font = panel.editor.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    panel.editor.setFont(font)
    assert panel.editor.gutter_width() > before
    assert panel.editor.viewportMargins().left() == panel.editor.gutter_width()


def test_an_edit_in_two_places_at_once_reaches_the_document_exactly(panel, doc):
    # What a drag-and-drop move does: one edit block that removes here and inserts there.
    text = doc.text
    cursor = QTextCursor(panel.editor.document())
    cursor.beginEditBlock()
    cursor.setPosition(text.index('"S1"') + 1)
    cursor.insertText("moved ")
    cursor.setPosition(text.index('"S0"') + 1)
    cursor.setPosition(text.index('"S0"') + 3, QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()
    cursor.endEditBlock()
    assert doc.text == panel.editor.document().toRawText().replace("\u2029", "\n")
    assert [s["name"] for s in doc.data["scenes"]] == ["", "moved S1"]
    assert doc.undo_stack.count() == 1


def test_a_minified_script_offers_to_format_it_and_stays_plain(panel, doc, qtbot):
    data = _script(200)
    doc.load(json.dumps(data, separators=(",", ":")), None)  # one line of about 16 kB
    assert panel.long_lines_bar.isVisibleTo(panel)
    block = panel.editor.document().firstBlock()
    panel.editor.viewport().repaint()
    assert block.layout().formats() == []  # not coloured: a long line would cost seconds
    panel._reformat_button.click()
    assert doc.text == dumps(data)
    assert doc.undo_stack.undoText() == "Format JSON"
    assert not panel.long_lines_bar.isVisibleTo(panel)


@pytest.mark.parametrize("text", ["", "   \n\n", "\x00{", '{"a": "\u2028"}', "[" * 2000, "🎬" * 10])
def test_odd_texts_are_shown_and_marked_without_errors(panel, doc, text):
    doc.set_text(text)
    validation = doc.validate_now()
    assert panel.editor.document().toRawText().replace("\u2029", "\n") == text
    assert len(panel.editor.marks) == len(validation.problems)
    panel.editor.viewport().repaint()
    panel.go_to_problem(+1)
    _put_cursor(panel, panel.editor.document().characterCount() - 1)
    panel.editor.setFocus()
    QTest.keyClicks(panel.editor, "1")
    assert doc.text == text + "1"


def test_ctrl_d_in_the_editor_duplicates_the_line_not_the_scene(panel, doc):
    from PySide6.QtGui import QAction

    duplicated_scene = []
    window_action = QAction("Duplicate scene", panel)
    window_action.setShortcut("Ctrl+D")
    window_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window_action.triggered.connect(lambda: duplicated_scene.append(True))
    panel.addAction(window_action)
    at = doc.text.index('"width": 640')
    _put_cursor(panel, at + 3)
    panel.editor.setFocus()
    QTest.keyClick(panel.editor, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert duplicated_scene == []
    assert doc.text.count('"width": 640,') == 2  # a duplicate key: the problems say so
    assert panel.editor.textCursor().blockNumber() == 2  # on the copy


def test_hovering_a_key_explains_the_field_from_the_schema(panel, doc, qtbot):
    text = doc.text
    font = doc.text.index('"width"') + 2
    assert panel.key_help(font) == "width: integer, 16 to 7680 px, default 1920"
    duration = text.index('"duration": 3') + 2
    assert panel.key_help(duration).startswith("duration: number, 0 to 3600 s (more than 0)")
    element_type = text.index('"type": "text"') + 2
    assert panel.key_help(element_type).startswith('type: one of "text", "image"')
    assert panel.key_help(text.index('"hello 1"') + 2) == ""  # a value, not a key
    # hovering shows it, after the problems of that place
    with qtbot.waitSignal(doc.validated):
        doc.set_value(("scenes", 1, "duration"), "long")
    at = doc.text.index('"duration": "long"') + 3
    cursor = QTextCursor(panel.editor.document())
    cursor.setPosition(at)
    point = panel.editor.cursorRect(cursor).center()
    QToolTip.hideText()
    viewport = panel.editor.viewport()
    QApplication.sendEvent(
        viewport, QHelpEvent(QEvent.Type.ToolTip, point, viewport.mapToGlobal(point))
    )
    qtbot.waitUntil(lambda: QToolTip.isVisible() and "0 to 3600 s" in QToolTip.text())
    assert QToolTip.text().startswith("Error: Expected number, received string")


def test_a_long_line_made_elsewhere_shows_the_format_bar(panel, doc):
    assert panel.long_lines_bar.isHidden()
    doc.set_value(("scenes", 0, "name"), "x" * 6000)  # one line of 6,000 characters
    assert not panel.long_lines_bar.isHidden()
    doc.undo_stack.undo()
    assert panel.long_lines_bar.isHidden()


def test_brackets_and_quotes_come_in_pairs_and_closers_are_stepped_over(panel, doc):
    doc.set_text("[\n  1\n]\n")
    _put_cursor(panel, doc.text.index("1") + 1)
    panel.editor.setFocus()
    QTest.keyClicks(panel.editor, ", {")
    assert doc.text == "[\n  1, {}\n]\n"
    QTest.keyClicks(panel.editor, '"name": "Intro')
    assert doc.text == '[\n  1, {"name": "Intro"}\n]\n'
    QTest.keyClicks(panel.editor, '"}')  # steps over the quote and the brace
    assert doc.text == '[\n  1, {"name": "Intro"}\n]\n'
    assert doc.parse_error is None
    QTest.keyClicks(panel.editor, ', "a": "{[')  # brackets inside a string stay single
    assert doc.text == '[\n  1, {"name": "Intro"}, "a": "{["\n]\n'
    doc.set_text("[]\n")
    _put_cursor(panel, 1)
    QTest.keyClick(panel.editor, Qt.Key.Key_Backspace)  # between an empty pair: both go
    assert doc.text == "\n"


def test_inside_string_reads_escapes():
    from app.studio.json_editor import _inside_string

    line = r'  "a\"b": "c'
    assert _inside_string(line, 4)  # after the opening quote
    assert _inside_string(line, 7)  # the escaped quote does not close it
    assert not _inside_string(line, 9)  # after the key's closing quote
    assert _inside_string(line, len(line))


def test_context_menu_offers_the_documents_undo_and_the_editor_actions(panel, doc, qtbot):
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtWidgets import QMenu

    doc.set_value(("width",), 1280)
    seen: list[str] = []

    def read_and_close() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        seen.extend(action.text() for action in menu.actions() if action.text())
        menu.close()

    QTimer.singleShot(100, read_and_close)
    panel._context_menu(QPoint(10, 10))
    assert seen[0] == "Undo Change width"
    assert {"Find in Script…", "Go to Line…", "Format JSON", "Next Problem"} <= set(seen)


def _popup_keys(panel: ScriptEditorPanel) -> list[str]:
    model = panel.editor.completer.completionModel()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def test_an_opening_quote_where_a_key_goes_offers_the_schemas_keys(panel, doc, qtbot):
    editor = panel.editor
    scene = doc.text.index('"name": "S0"')
    _put_cursor(panel, scene)  # at the start of the scene's first member
    editor.setFocus()
    QTest.keyClicks(editor, '"')
    popup = editor.completer.popup()
    assert popup.isVisible()
    keys = _popup_keys(panel)
    assert "background" in keys and "transition" in keys
    assert "name" not in keys and "duration" not in keys  # already there
    QTest.keyClicks(editor, "back")
    assert _popup_keys(panel) == ["background"]
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert doc.parse_error is None, doc.text  # the comma before the next member is there
    assert "background" in doc.data["scenes"][0]
    assert doc.undo_stack.undoText() == "Edit JSON"


def test_ctrl_space_offers_the_keys_of_that_element_type_even_while_the_text_is_broken(
    panel, doc, qtbot
):
    editor = panel.editor
    doc.validate_now()
    element_end = doc.text.index('"text": "hello 1"') + len('"text": "hello 1"')
    _put_cursor(panel, element_end)
    editor.setFocus()
    QTest.keyClicks(editor, ", ")  # not JSON any more
    assert doc.parse_error is not None
    QTest.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    keys = _popup_keys(panel)
    assert "font_size" in keys and "text" not in keys and "volume" not in keys
    QTest.keyClicks(editor, '"font_s')
    QTest.keyClick(editor.completer.popup(), Qt.Key.Key_Return)
    assert doc.parse_error is None, doc.text
    assert doc.data["scenes"][1]["elements"][0]["font_size"] == 48


def test_no_completion_where_no_key_goes(panel, doc):
    editor = panel.editor
    _put_cursor(panel, doc.text.index('"hello 0"') + 3)  # inside a value
    assert not editor.show_completions()
    _put_cursor(panel, doc.text.index("[") + 1)  # inside the scenes list
    assert not editor.show_completions()
    assert not editor.completer.popup().isVisible()


def test_completing_on_a_new_line_gives_a_valid_member(panel, doc):
    editor = panel.editor
    _put_cursor(panel, doc.text.index('{\n      "name": "S1"') + 1)
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_Return)
    QTest.keyClicks(editor, '"trans')
    QTest.keyClick(editor.completer.popup(), Qt.Key.Key_Return)
    assert doc.parse_error is None, doc.text
    assert doc.data["scenes"][1]["transition"] == {}
    assert doc.data["scenes"][1]["name"] == "S1"
