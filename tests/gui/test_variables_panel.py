"""VariablesPanel: the script's {{variables}}, their sample values, and what validation makes of
them."""

from __future__ import annotations

import pytest

from app.script.problems import MISSING_VARIABLE, UNUSED_VARIABLE
from app.studio.document import ScriptDocument, dumps
from app.studio.variables_panel import VariablesPanel, parse_sample, sample_text


def _script(headline: str = "{{headline}}") -> dict:
    return {
        "scenes": [
            {
                "duration": "{{secs}}",
                "elements": [
                    {"type": "text", "text": headline},
                    {"type": "text", "text": "by {{author}}, {{headline}}"},
                ],
            }
        ]
    }


@pytest.fixture
def doc(qtbot):
    document = ScriptDocument(dumps(_script()))
    document.validate_now()
    yield document
    document.close()


@pytest.fixture
def panel(qtbot, doc):
    widget = VariablesPanel(doc)
    qtbot.addWidget(widget)
    widget.resize(420, 300)
    widget.show()
    return widget


def codes(doc: ScriptDocument) -> list[tuple[str, str]]:
    validation = doc.validate_now()
    return [(p.code, p.message) for p in validation.problems]


def test_lists_every_variable_with_the_first_path_using_it(panel):
    assert panel.names == ["secs", "headline", "author"]
    assert panel.used["headline"] == ("scenes", 0, "elements", 0, "text")
    assert panel.used["secs"] == ("scenes", 0, "duration")
    assert panel.table.rowCount() == 3
    assert panel.table.item(1, 0).text() == "headline"
    assert panel.table.isVisible() and not panel.empty.isVisible()


def test_shows_no_variables_when_there_are_none(qtbot):
    document = ScriptDocument(dumps({"scenes": [{"duration": 2}]}))
    widget = VariablesPanel(document)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.names == []
    assert widget.empty.isVisible()
    assert "No variables" in widget.empty.text()
    assert not widget.table.isVisible()
    document.close()


def test_sample_values_reach_the_document_and_missing_variable_disappears(panel, doc):
    assert sum(code == MISSING_VARIABLE for code, _ in codes(doc)) == 3
    editor = panel.editor("headline")
    assert editor is not None
    editor.setText("Big news")
    editor.editingFinished.emit()
    assert doc.variables == {"headline": "Big news"}
    messages = [m for code, m in codes(doc) if code == MISSING_VARIABLE]
    assert not any("headline" in m for m in messages)
    panel.set_sample("secs", "5")
    panel.set_sample("author", "Ada")
    assert doc.variables == {"headline": "Big news", "secs": 5, "author": "Ada"}
    assert not [c for c, _ in codes(doc) if c == MISSING_VARIABLE]
    assert doc.movie is not None
    assert doc.movie.scenes[0].duration == 5  # a JSON number stays a number


def test_json_values_are_parsed_and_text_stays_text():
    assert parse_sample("42") == 42
    assert parse_sample("true") is True
    assert parse_sample("[1, 2]") == [1, 2]
    assert parse_sample('"42"') == "42"
    assert parse_sample("hello") == "hello"
    assert parse_sample("{not json") == "{not json"
    for value in ("42", "hello", 42, True, None, "true", [1, "a"], 'say "hi"'):
        assert parse_sample(sample_text(value)) == value


def test_values_survive_a_variable_that_disappears_while_typing(panel, doc, qtbot):
    panel.set_sample("headline", "Big news")
    panel.set_sample("secs", "4")
    panel.set_sample("author", "Ada")
    # The user retypes the placeholder in the JSON editor: "{{headl" for a moment.
    data = _script("{{headl")
    data["scenes"][0]["elements"][1]["text"] = "by {{author}}"
    doc.set_text(dumps(data))
    panel.refresh()
    assert panel.names == ["secs", "author", "headline"]  # kept, listed as not used
    assert panel.texts["headline"] == "Big news"
    assert any(c == UNUSED_VARIABLE for c, _ in codes(doc))
    doc.set_text(dumps(_script()))
    panel.refresh()
    assert panel.names == ["secs", "headline", "author"]
    assert doc.variables["headline"] == "Big news"
    assert panel.editor("headline").text() == "Big news"
    assert not [c for c, _ in codes(doc) if c in (MISSING_VARIABLE, UNUSED_VARIABLE)]


def test_forgetting_an_unused_value_removes_it(panel, doc):
    panel.set_sample("headline", "Big news")
    doc.set_text(dumps({"scenes": [{"duration": 2}]}))
    panel.refresh()
    assert panel.names == ["headline"]
    panel.forget("headline")
    assert panel.names == []
    assert doc.variables == {}
    assert panel.empty.isVisible()


def test_list_follows_data_changes_after_a_short_pause(panel, doc, qtbot):
    doc.set_value(("scenes", 0, "name"), "{{title}}")
    qtbot.waitUntil(lambda: "title" in panel.names, timeout=2000)
    assert panel.used["title"] == ("scenes", 0, "name")


def test_values_set_by_someone_else_are_shown(panel, doc):
    doc.set_variables({"headline": "From file", "secs": 3})
    assert panel.editor("headline").text() == "From file"
    assert panel.editor("secs").text() == "3"
    assert panel.values() == {"headline": "From file", "secs": 3}


def test_clicking_where_a_variable_is_used_selects_that_element_and_field(panel, doc, qtbot):
    cell = panel.table.cellWidget(1, 2)
    link = cell.findChild(type(panel.intro))
    with qtbot.waitSignal(doc.selection_changed) as selected:
        link.linkActivated.emit("show")
    assert selected.args == [
        ("scenes", 0, "elements", 0),
        ("scenes", 0, "elements", 0, "text"),
    ]


def test_clearing_a_value_makes_the_variable_missing_again(panel, doc):
    panel.set_sample("headline", "Big news")
    panel.set_sample("headline", "")
    assert "headline" not in doc.variables
    assert any(c == MISSING_VARIABLE and "headline" in m for c, m in codes(doc))


def test_a_placeholder_written_with_escaped_braces_is_still_found(qtbot):
    text = '{"scenes": [{"duration": 2, "elements": [{"type": "text", "text": "\\u007b{who}}"}]}]}'
    document = ScriptDocument(text)
    widget = VariablesPanel(document)
    qtbot.addWidget(widget)
    assert "{{" not in document.text
    assert widget.names == ["who"]
    document.set_text(text.replace("\\u007b{who}}", "plain"))
    widget.refresh()
    assert widget.names == []
    document.close()
