"""ScriptDocument: one truth, one undo stack, text and data kept in step, validation on change."""

from __future__ import annotations

import json

import pytest

from app.script.problems import INVALID_JSON
from app.studio.document import MISSING, ScriptDocument, dumps
from tests.gui.support import text_scenes_script as _script


@pytest.fixture
def doc(qtbot):
    document = ScriptDocument(dumps(_script()))
    yield document
    document.close()


def test_set_value_reserialises_text_and_names_the_undo_step(doc, qtbot):
    with qtbot.waitSignal(doc.data_changed) as changed:
        doc.set_value(("scenes", 1, "duration"), 7.5)
    assert changed.args[0] == (("scenes", 1, "duration"),)
    assert json.loads(doc.text)["scenes"][1]["duration"] == 7.5
    assert doc.text == dumps(doc.data)
    assert doc.undo_stack.undoText() == "Change scene 2 › duration"
    assert doc.is_modified


def test_undo_restores_the_exact_hand_formatted_text(doc):
    hand = '{"width": 640, "height": 360,\n "scenes": [{"duration": 3}]}'
    doc.set_text(hand)
    doc.set_value(("scenes", 0, "duration"), 4)
    assert doc.text != hand
    doc.undo_stack.undo()
    assert doc.text == hand
    assert doc.data["scenes"][0]["duration"] == 3
    doc.undo_stack.redo()
    assert doc.data["scenes"][0]["duration"] == 4


def test_repeated_edits_of_one_field_merge_into_one_step(doc):
    for value in (3, 4, 5, 6):
        doc.set_value(("scenes", 0, "duration"), value)
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.data["scenes"][0]["duration"] == 2
    assert not doc.is_modified


def test_text_edit_updates_data_and_reports_changed_scene(doc, qtbot):
    data = _script()
    data["scenes"][1]["name"] = "Renamed"
    with qtbot.waitSignal(doc.data_changed) as changed:
        doc.set_text(dumps(data))
    assert changed.args[0] == (("scenes", 1),)
    assert doc.data["scenes"][1]["name"] == "Renamed"


def test_invalid_json_keeps_last_good_data_and_reports_line_and_column(doc):
    good = doc.data
    doc.set_text('{\n  "scenes": [\n    {"duration": 3,}\n  ]\n}')
    assert doc.data is good
    assert doc.parse_error is not None
    validation = doc.validate_now()
    (problem,) = validation.problems
    assert problem.code == INVALID_JSON
    where = validation.location(problem)
    assert (where.line, where.column) == (3, doc.parse_error.column)


def test_data_edit_while_text_is_invalid_then_undo_brings_the_typing_back(doc):
    broken = doc.text[:-3]
    doc.set_text(broken)
    doc.set_value(("scenes", 0, "name"), "Intro")
    assert doc.parse_error is None and doc.data["scenes"][0]["name"] == "Intro"
    doc.undo_stack.undo()
    assert doc.text == broken
    assert doc.parse_error is not None


def test_consecutive_typing_is_one_undo_step(doc):
    original = doc.text
    for typed in ("a", "ab", "abc"):
        doc.set_text(original.replace('"hello 0"', f'"hello 0{typed}"'))
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Edit JSON"
    doc.undo_stack.undo()
    assert doc.text == original


def test_move_insert_remove_are_undoable(doc):
    doc.move(("scenes",), 0, 1, "Move scene")
    assert [s["name"] for s in doc.data["scenes"]] == ["S1", "S0"]
    doc.insert(("scenes", 1), {"name": "New", "duration": 1}, "Add scene")
    assert [s["name"] for s in doc.data["scenes"]] == ["S1", "New", "S0"]
    doc.remove(("scenes", 0), "Delete scene")
    assert [s["name"] for s in doc.data["scenes"]] == ["New", "S0"]
    doc.set_value(("scenes", 0, "name"), MISSING)
    assert "name" not in doc.data["scenes"][0]
    for _ in range(4):
        doc.undo_stack.undo()
    assert [s["name"] for s in doc.data["scenes"]] == ["S0", "S1"]
    assert not doc.is_modified


def test_validation_locates_a_bad_value_at_its_text_range(doc, qtbot):
    with qtbot.waitSignal(doc.validated) as got:
        doc.set_value(("scenes", 1, "duration"), "long")
    validation = got.args[0]
    (problem,) = validation.at(("scenes", 1, "duration"))
    where = validation.location(problem)
    assert doc.text[where.start : where.end] == '"duration": "long"'
    assert validation.under(("scenes", 1)) == [problem]
    assert validation.under(("scenes", 0)) == []


def test_large_documents_are_validated_on_a_worker_and_only_the_latest_lands(qtbot):
    doc = ScriptDocument(dumps(_script(400)))
    try:
        qtbot.waitUntil(lambda: doc.validation is not None and doc.validation.revision == 1)
        doc.set_value(("scenes", 5, "duration"), -1)
        doc.set_value(("scenes", 6, "duration"), -1, merge=False)
        qtbot.waitUntil(lambda: doc.validation.revision == doc.revision, timeout=5000)
        bad = {p.path for p in doc.validation.problems}
        assert {("scenes", 5, "duration"), ("scenes", 6, "duration")} <= bad
    finally:
        doc.close()


def test_replace_data_swaps_the_whole_script_and_undoes(doc):
    before = doc.text
    doc.replace_data(_script(3), "Use example")
    assert [s["name"] for s in doc.data["scenes"]] == ["S0", "S1", "S2"]
    assert doc.text == dumps(_script(3))
    assert doc.undo_stack.undoText() == "Use example"
    doc.undo_stack.undo()
    assert doc.text == before and len(doc.data["scenes"]) == 2


def test_load_clears_history_and_modified_flag(doc, tmp_path):
    doc.set_value(("width",), 1280)
    doc.load(dumps(_script(1)), tmp_path / "a.json")
    assert doc.undo_stack.count() == 0
    assert not doc.is_modified
    assert doc.display_name == "a.json"


def test_select_is_broadcast(doc, qtbot):
    with qtbot.waitSignal(doc.selection_changed) as got:
        doc.select(("scenes", 1), ("scenes", 1, "duration"))
    assert got.args == [("scenes", 1), ("scenes", 1, "duration")]


def test_movie_follows_valid_data_and_stays_on_the_last_good_one(doc, qtbot):
    doc.validate_now()
    assert doc.movie is not None and doc.movie.scenes[1].duration == 3
    with qtbot.waitSignal(doc.movie_changed):
        doc.set_value(("scenes", 1, "duration"), 9)
    assert doc.movie.scenes[1].duration == 9
    doc.set_value(("scenes", 1, "duration"), "nine")
    doc.validate_now()
    assert doc.movie.scenes[1].duration == 9


def test_template_variables_feed_validation_and_the_movie(qtbot):
    data = _script(1)
    data["scenes"][0]["elements"][0]["text"] = "Hi {{name}}"
    doc = ScriptDocument(dumps(data))
    try:
        assert [p.code for p in doc.validate_now().problems] == ["MISSING_VARIABLE"]
        assert doc.movie is None
        doc.set_variables({"name": "Ada"})
        assert doc.validate_now().problems == []
        assert doc.movie.scenes[0].elements[0].text == "Hi Ada"
    finally:
        doc.close()


def test_playhead_clamps_and_signals(doc, qtbot):
    doc.playhead.seek(2.5)
    with qtbot.waitSignal(doc.playhead.time_changed) as got:
        doc.playhead.seek(-3)
    assert got.args == [0.0] and doc.playhead.time == 0.0
    with qtbot.assertNotEmitted(doc.playhead.time_changed):
        doc.playhead.seek(0)


def test_edits_copy_on_write_so_an_earlier_root_stays_intact(doc):
    """A validation running on a worker keeps reading the data it was given."""
    before = doc.data
    first_scene = before["scenes"][0]
    snapshot = json.loads(json.dumps(before))
    doc.set_value(("scenes", 1, "elements", 0, "text"), "changed")
    doc.insert(("scenes", 2), {"duration": 1}, "Add scene")
    doc.remove(("scenes", 0, "elements", 0), "Delete element")
    assert before == snapshot  # the old root was never mutated
    assert doc.data is not before
    doc.undo_stack.undo()
    assert doc.data["scenes"][0]["elements"] == first_scene["elements"]
    assert doc.data["scenes"][1]["elements"][0]["text"] == "changed"


def test_validation_reuses_the_documents_parse_and_matches_a_fresh_one(doc):
    from app.script.validate import validate_text

    doc.set_text(doc.text.replace('"hello 1"', '"hello 1", "font_size": "big"'))
    validation = doc.validate_now()
    fresh = validate_text(doc.text)
    assert [p.as_dict() for p in validation.problems] == [p.as_dict() for p, _ in fresh.located()]
    assert validation.problems


def test_opening_a_script_with_errors_drops_the_previous_files_movie(doc, qtbot, tmp_path):
    doc.validate_now()
    assert doc.movie is not None
    broken = _script(1)
    broken["scenes"][0]["duration"] = "long"
    with qtbot.waitSignal(doc.movie_changed) as got:
        doc.load(dumps(broken), tmp_path / "broken.json")
    assert got.args == [None]
    doc.validate_now()
    assert doc.movie is None


def test_canonical_text_is_two_space_json_in_key_order_even_for_huge_integers():
    data = {"b": [1, {"x": []}, {}], "a": "é\u2028", "big": 2**70, "f": 0.5}
    text = dumps(data)
    assert text.endswith("}\n")
    assert json.loads(text) == data
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    small = {"b": [1, {"x": []}, {}], "a": "é", "n": -(2**63)}
    assert dumps(small) == json.dumps(small, indent=2, ensure_ascii=False) + "\n"
