"""The Problems dock: every problem listed with where it is, counted, filtered, sorted; clicking
one selects its scene/element focused on its path and moves the JSON editor's cursor there."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.script.problems import INVALID_JSON
from app.studio.document import ScriptDocument, dumps
from app.studio.json_editor import ScriptEditorPanel
from app.studio.problems_panel import LINE, PROBLEM, ProblemsPanel, selection_for


def _script() -> dict:
    return {
        "width": 640,
        "height": 360,
        "quality": "ultra",  # error at the movie
        "scenes": [
            {"name": "S0", "duration": 2, "elements": [{"type": "text", "text": "Hi {{who}}"}]},
            {
                "name": "S1",
                "duration": "long",  # error in scene 2
                "elements": [{"type": "text", "text": "x", "font_size": -3}],  # error in element
            },
        ],
    }


@pytest.fixture
def doc(qtbot):
    document = ScriptDocument(dumps(_script()))
    document.set_variables({"who": "Ada", "spare": "unused"})  # one warning
    document.validate_now()
    yield document
    document.close()


@pytest.fixture
def panel(doc, qtbot):
    widget = ProblemsPanel(doc)
    qtbot.addWidget(widget)
    widget.resize(800, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _row_of(panel: ProblemsPanel, path) -> int:
    for row in range(panel.model.rowCount()):
        if panel.model.index(row, 0).data(Qt.ItemDataRole.UserRole + 1).path == path:
            return row
    raise AssertionError(f"no row for {path}")


def test_lists_every_problem_with_its_place_and_counts_them(panel, doc):
    assert panel.counts.text() == "3 errors, 1 warning"
    assert panel.errors_button.text() == "3" and panel.warnings_button.text() == "1"
    assert len(panel.problems()) == 4
    row = _row_of(panel, ("scenes", 1, "elements", 0, "font_size"))
    where = panel.model.index(row, 1).data()
    assert where == "scene 2 › element 1 › font_size"
    validation = doc.validation
    (problem,) = validation.at(("scenes", 1, "elements", 0, "font_size"))
    location = validation.location(problem)
    assert panel.model.index(row, LINE).data() == f"{location.line}:{location.column}"
    assert "Number must be greater" in panel.model.index(row, PROBLEM).data()


def test_follows_new_validations(panel, doc, qtbot):
    with qtbot.waitSignal(doc.validated):
        doc.set_value(("scenes", 1, "duration"), 3)
    assert panel.counts.text() == "2 errors, 1 warning"
    with qtbot.waitSignal(doc.validated):
        doc.set_value(("quality",), "high")
        doc.set_value(("scenes", 1, "elements", 0, "font_size"), 30)
        doc.set_variables({"who": "Ada"})
    assert panel.counts.text() == "No problems"
    assert panel.stack.currentWidget() is panel.empty


def test_filters_by_severity_and_text(panel):
    panel.errors_button.setChecked(False)
    assert [p.severity for p in panel.problems()] == ["warning"]
    assert panel.counts.text() == "3 errors, 1 warning (1 shown)"
    panel.errors_button.setChecked(True)
    panel.warnings_button.setChecked(False)
    assert {p.severity for p in panel.problems()} == {"error"}
    panel.warnings_button.setChecked(True)
    QTest.keyClicks(panel.filter_edit, "scene 2 duration")
    assert [p.path for p in panel.problems()] == [("scenes", 1, "duration")]
    panel.filter_edit.setText("nothing like this")
    assert panel.problems() == []
    assert panel.stack.currentWidget() is panel.empty
    assert "filter" in panel.empty.text()


def test_sorts_by_severity_and_by_line(panel):
    panel.view.sortByColumn(PROBLEM, Qt.SortOrder.AscendingOrder)
    assert [p.severity for p in panel.problems()] == ["error", "error", "error", "warning"]
    panel.view.sortByColumn(LINE, Qt.SortOrder.DescendingOrder)
    lines = [int(panel.model.index(r, LINE).data().split(":")[0]) for r in range(4)]
    assert lines == sorted(lines, reverse=True)


def test_clicking_a_problem_selects_its_element_focused_on_its_path(panel, doc, qtbot):
    row = _row_of(panel, ("scenes", 1, "elements", 0, "font_size"))
    rect = panel.view.visualRect(panel.model.index(row, 0))
    with (
        qtbot.waitSignal(doc.selection_changed) as selected,
        qtbot.waitSignal(panel.problem_activated) as activated,
    ):
        QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert selected.args == [
        ("scenes", 1, "elements", 0),
        ("scenes", 1, "elements", 0, "font_size"),
    ]
    assert activated.args[0].path == ("scenes", 1, "elements", 0, "font_size")


def test_clicking_a_problem_moves_the_json_editor_cursor_to_its_range(panel, doc, qtbot):
    editor = ScriptEditorPanel(doc)
    qtbot.addWidget(editor)
    editor.show()
    for path in (("scenes", 1, "duration"), ("quality",)):
        row = _row_of(panel, path)
        rect = panel.view.visualRect(panel.model.index(row, 0))
        QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        (problem,) = doc.validation.at(path)
        location = doc.validation.location(problem)
        assert editor.editor.textCursor().position() == location.start
    assert doc.selection == ((), ("quality",))


def test_invalid_json_is_listed_and_navigates_to_its_position(panel, doc, qtbot):
    editor = ScriptEditorPanel(doc)
    qtbot.addWidget(editor)
    with qtbot.waitSignal(doc.validated):
        doc.set_text(doc.text.replace('"S0",', '"S0",,'))
    (problem,) = panel.problems()
    assert problem.code == INVALID_JSON
    assert panel.counts.text() == "1 error, 0 warnings"
    panel.activate(panel.model.index(0, 0))
    location = doc.validation.location(problem)
    assert editor.editor.textCursor().position() == location.start
    assert doc.text[location.start] == ","


def test_selection_for_problem_paths():
    assert selection_for(("scenes", 3, "elements", 0, "src")) == ("scenes", 3, "elements", 0)
    assert selection_for(("scenes", 3, "transition", "type")) == ("scenes", 3)
    assert selection_for(("scenes",)) == ()
    assert selection_for(()) == ()


def test_fifty_problems_in_a_thousand_scene_document_refresh_quickly(qtbot):
    scenes = [
        {"name": f"S{i}", "duration": -1 if i % 20 == 0 else 3, "elements": []} for i in range(1000)
    ]
    document = ScriptDocument(dumps({"width": 640, "height": 360, "scenes": scenes}))
    try:
        validation = document.validate_now()
        assert len(validation.problems) == 50
        widget = ProblemsPanel(document)
        qtbot.addWidget(widget)
        widget.show()
        start = time.perf_counter()
        for _ in range(10):
            widget._validated(validation)
        qtbot.wait(1)
        per_refresh = (time.perf_counter() - start) / 10
        assert len(widget.problems()) == 50
        assert per_refresh < 0.05
    finally:
        document.close()


def test_copy_puts_the_selected_problems_on_the_clipboard(panel, qtbot):
    from PySide6.QtGui import QGuiApplication

    row = _row_of(panel, ("scenes", 1, "duration"))
    panel.view.setCurrentIndex(panel.model.index(row, 0))
    panel.view.setFocus()
    QTest.keyClick(panel.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("error\tExpected number, received string\tscenes.1.duration\t")


def test_a_double_click_navigates_once(panel, doc, qtbot):
    row = _row_of(panel, ("scenes", 1, "duration"))
    rect = panel.view.visualRect(panel.model.index(row, 0))
    seen = []
    panel.problem_activated.connect(seen.append)
    QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert len(seen) == 1
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    QTest.keyClick(panel.view, Qt.Key.Key_Return)  # the keyboard activates again later
    assert len(seen) == 2


def test_a_new_validation_keeps_the_list_where_it_was_scrolled(qtbot):
    scenes = [{"name": f"S{i}", "duration": -1, "elements": []} for i in range(200)]
    document = ScriptDocument(dumps({"width": 640, "height": 360, "scenes": scenes}))
    try:
        widget = ProblemsPanel(document)
        qtbot.addWidget(widget)
        widget.resize(500, 200)
        widget.show()
        document.validate_now()
        bar = widget.view.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
        before = bar.value()
        assert before > 0
        document.set_value(("scenes", 0, "duration"), 2)  # one problem fewer, list refreshed
        document.validate_now()
        assert bar.value() == before
    finally:
        document.close()
