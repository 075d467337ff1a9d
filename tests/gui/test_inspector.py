"""InspectorPanel: the selected object's fields, edited through the document, one undo step each,
following undo and outside edits in place, showing problems, defaults and probed media."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QApplication, QColorDialog

from app.media.encode import Mp4Writer
from app.studio.document import ScriptDocument, dumps
from app.studio.field_editors import (
    ColorEditor,
    NumberEditor,
    SourceEditor,
    TextEditor,
    TransitionEditor,
)
from app.studio.inspector import InspectorPanel

SAMPLE_RATE = 48000
TEXT_COMMIT_WAIT_MS = 900


def _script() -> dict:
    return {
        "width": 640,
        "height": 360,
        "scenes": [
            {
                "name": "Intro",
                "duration": 4,
                "elements": [
                    {"type": "text", "text": "Hello", "font_size": 48},
                    {"type": "video", "src": "media/clip.mp4"},
                ],
            },
            {"name": "Outro", "duration": 3, "elements": []},
        ],
    }


def write_clip(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """A real 160×90 H.264 clip with a stereo tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Mp4Writer(path, 160, 90, fps, "low", audio=True, gop=5) as out:
        for i in range(int(seconds * fps)):
            out.write_frame(np.full((90, 160, 3), (i * 20 % 255, 80, 140), np.uint8))
        n = int(seconds * SAMPLE_RATE)
        wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
        out.write_audio(np.stack([wave, wave], axis=1))
    return path


@pytest.fixture
def doc(qtbot, tmp_path):
    document = ScriptDocument(dumps(_script()), file_path=tmp_path / "movie.json")
    document.validate_now()
    yield document
    document.close()


@pytest.fixture
def panel(qtbot, doc):
    widget = InspectorPanel(doc)
    qtbot.addWidget(widget)
    widget.resize(380, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


TEXT = ("scenes", 0, "elements", 0)
VIDEO = ("scenes", 0, "elements", 1)


def number(panel: InspectorPanel, key: str) -> NumberEditor:
    row = panel.row(key)
    assert row is not None, f"no row for {key}"
    assert isinstance(row.editor, NumberEditor)
    return row.editor


def probed(editor: SourceEditor) -> bool:
    return editor.outcome is not None and not editor.outcome.pending


def test_spin_box_edit_changes_data_and_text_as_one_named_undo_step(panel, doc):
    doc.select(TEXT)
    spin = number(panel, "font_size").spin
    spin.stepBy(1)
    spin.stepBy(1)
    spin.stepBy(1)
    assert doc.data["scenes"][0]["elements"][0]["font_size"] == 51
    assert json.loads(doc.text)["scenes"][0]["elements"][0]["font_size"] == 51
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Change scene 1 › element 1 › font_size"


def test_undo_updates_the_editor_in_place_without_rebuilding(panel, doc):
    doc.select(TEXT)
    row = panel.row("font_size")
    number(panel, "font_size").spin.setValue(72)
    assert doc.data["scenes"][0]["elements"][0]["font_size"] == 72
    doc.undo_stack.undo()
    assert panel.row("font_size") is row
    assert number(panel, "font_size").spin.value() == 48
    assert doc.data["scenes"][0]["elements"][0]["font_size"] == 48
    assert doc.undo_stack.count() == 1  # showing the undone value wrote nothing back


def test_outside_edit_of_another_scene_leaves_the_inspector_alone(panel, doc, qtbot):
    doc.select(("scenes", 1))
    row = panel.row("duration")
    doc.set_value(("scenes", 0, "duration"), 9)
    doc.set_value(("scenes", 1, "duration"), 6.5)  # a timeline drag of the shown scene
    assert panel.row("duration") is row
    assert number(panel, "duration").spin.value() == 6.5
    # a JSON edit of every field the inspector shows: values follow, nothing is written back
    data = json.loads(doc.text)
    data["scenes"][1].update(name="Finale", background="#11223344", duration=2.25)
    doc.set_text(dumps(data))
    assert number(panel, "duration").spin.value() == 2.25
    assert panel.row("background").editor.hex.text() == "#11223344"  # type: ignore[union-attr]
    assert doc.undo_stack.count() == 3
    assert doc.undo_stack.undoText() == "Edit JSON"


def test_invalid_value_is_shown_raw_outlined_with_its_message_and_not_fixed(panel, doc, qtbot):
    data = _script()
    data["scenes"][0]["duration"] = "long"
    doc.select(("scenes", 0))
    with qtbot.waitSignal(doc.validated, timeout=3000):  # the live, debounced validation
        doc.set_text(dumps(data))
    row = panel.row("duration")
    assert row is not None
    assert row.shows_raw
    assert row.raw.edit.text() == '"long"'
    assert row.outline.severity == "error"
    assert "Expected number, received string" in row.message.text()
    assert "Expected number, received string" in row.outline.toolTip()
    assert row.message.isVisible()
    assert doc.data["scenes"][0]["duration"] == "long"  # shown as it is, never "fixed"
    # Typing a number into the raw field writes a number and the spin box comes back.
    row.raw.edit.setText("5")
    row.raw.edit.editingFinished.emit()
    assert doc.data["scenes"][0]["duration"] == 5
    assert not row.shows_raw
    qtbot.waitUntil(lambda: row.outline.severity is None, timeout=3000)
    assert not row.message.isVisible()


def test_selection_with_focus_scrolls_to_the_field_and_focuses_its_editor(panel, doc, qtbot):
    panel.activateWindow()
    panel.resize(380, 300)  # too short to show the field without scrolling
    doc.select(TEXT, (*TEXT, "animation_duration"))
    row = panel.row("animation_duration")
    assert row is not None
    target = row.focus_target()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is target)
    qtbot.wait(20)
    viewport = panel.scroller.viewport()
    top_left = row.outline.mapTo(viewport, row.outline.rect().topLeft())
    assert 0 <= top_left.y() <= viewport.height() - row.outline.height()


def test_problem_path_in_focus_selects_that_object(panel, doc, qtbot):
    panel.activateWindow()
    doc.select((), ("scenes", 1, "duration"))
    assert panel.path == ("scenes", 1)
    row = panel.row("duration")
    assert row is not None
    qtbot.waitUntil(lambda: QApplication.focusWidget() is row.focus_target())


def test_absent_field_shows_its_default_and_reset_removes_the_key(panel, doc):
    doc.select(TEXT)
    row = panel.row("opacity")
    assert row is not None
    assert row.shows_default
    assert row.hint.text() == "default"
    spin = number(panel, "opacity").spin
    assert spin.value() == 100  # shown as a percentage of the default 1
    assert spin.font().italic()
    spin.setValue(50)
    assert doc.data["scenes"][0]["elements"][0]["opacity"] == 0.5
    assert not row.shows_default
    assert not spin.font().italic()
    row.reset.click()
    assert "opacity" not in doc.data["scenes"][0]["elements"][0]
    assert doc.undo_stack.undoText() == "Reset scene 1 › element 1 › opacity"
    assert row.shows_default
    doc.undo_stack.undo()
    assert doc.data["scenes"][0]["elements"][0]["opacity"] == 0.5


def test_colour_with_alpha_round_trips_through_the_colour_dialog(panel, doc, qtbot):
    doc.select(TEXT)
    row = panel.row("color")
    assert row is not None and isinstance(row.editor, ColorEditor)
    editor = row.editor
    seen: list[QColorDialog] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QColorDialog):
            QTimer.singleShot(20, answer)
            return
        seen.append(dialog)
        assert dialog.testOption(QColorDialog.ColorDialogOption.ShowAlphaChannel)
        dialog.setCurrentColor(QColor(10, 20, 30, 128))
        dialog.accept()

    QTimer.singleShot(20, answer)
    editor.swatch.click()
    assert seen
    assert doc.data["scenes"][0]["elements"][0]["color"] == "#0A141E80"
    assert editor.hex.text() == "#0A141E80"
    assert editor.swatch.color is not None and editor.swatch.color.alpha() == 128
    # and back: the dialog opens on the colour the document has, alpha included
    opened_on: list[tuple[int, int, int, int]] = []

    def look_and_cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QColorDialog):
            QTimer.singleShot(20, look_and_cancel)
            return
        opened_on.append(dialog.currentColor().getRgb())
        dialog.reject()

    QTimer.singleShot(20, look_and_cancel)
    editor.swatch.click()
    assert opened_on == [(10, 20, 30, 128)]
    assert doc.data["scenes"][0]["elements"][0]["color"] == "#0A141E80"  # rejected: unchanged


def test_typed_hex_colour_is_written_and_a_non_colour_is_not(panel, doc):
    doc.select(("scenes", 0))
    row = panel.row("background")
    assert row is not None and isinstance(row.editor, ColorEditor)
    hex_edit = row.editor.hex
    hex_edit.setText("#11223344")
    hex_edit.editingFinished.emit()
    assert doc.data["scenes"][0]["background"] == "#11223344"
    hex_edit.setText("blue-ish")
    hex_edit.editingFinished.emit()
    assert doc.data["scenes"][0]["background"] == "#11223344"
    assert hex_edit.property("invalidInput") is True


def test_text_commits_after_a_pause_not_per_keystroke(panel, doc, qtbot):
    doc.select(TEXT)
    row = panel.row("text")
    assert row is not None and isinstance(row.editor, TextEditor)
    edit = row.editor.edit
    edit.setFocus()
    edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(edit, " world")
    assert doc.data["scenes"][0]["elements"][0]["text"] == "Hello"  # not yet
    qtbot.waitUntil(
        lambda: doc.data["scenes"][0]["elements"][0]["text"] == "Hello world", timeout=3000
    )
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Change scene 1 › element 1 › text"


def test_missing_required_field_is_outlined_and_editing_it_writes_the_key(panel, doc):
    doc.remove((*TEXT, "text"))
    doc.validate_now()
    doc.select(TEXT)
    row = panel.row("text")
    assert row is not None
    assert row.outline.severity == "error"
    assert "Required" in row.message.text()
    assert row.side.currentWidget() not in (row.reset, row.hint)  # required: no reset
    assert isinstance(row.editor, TextEditor)
    row.editor.edit.setPlainText("Back")
    row.editor.edit.commit.emit()
    assert doc.data["scenes"][0]["elements"][0]["text"] == "Back"


def test_unknown_key_is_listed_with_its_problem_and_can_be_removed(panel, doc):
    doc.set_value((*TEXT, "font-size"), 30)
    doc.validate_now()
    doc.select(TEXT)
    row = panel.row("font-size")
    assert row is not None and row.unknown
    assert "Did you mean 'font_size'" in row.message.text()
    row.reset.click()
    assert "font-size" not in doc.data["scenes"][0]["elements"][0]
    assert doc.undo_stack.undoText() == "Remove scene 1 › element 1 › font-size"
    assert panel.row("font-size") is None


def test_problems_without_a_field_are_shown_at_the_top(panel, doc):
    doc.set_value(("scenes",), [])
    doc.validate_now()
    doc.select(())
    assert panel.object_problems.isVisible()
    assert "scenes" in panel.object_problems.text()


def test_changing_the_element_type_is_one_step_that_drops_the_old_kinds_fields(panel, doc):
    doc.select(TEXT)
    row = panel.row("type")
    assert row is not None
    combo = row.editor.combo  # type: ignore[attr-defined]
    combo.setCurrentIndex(combo.findText("image"))
    combo.activated.emit(combo.currentIndex())
    element = doc.data["scenes"][0]["elements"][0]
    assert element == {"type": "image"}
    assert doc.undo_stack.undoText() == "Change scene 1 › element 1 to image"
    assert panel.row("src") is not None and panel.row("font_size") is None
    doc.undo_stack.undo()
    assert doc.data["scenes"][0]["elements"][0] == {
        "type": "text",
        "text": "Hello",
        "font_size": 48,
    }
    assert panel.row("font_size") is not None


def test_transition_editor_adds_edits_and_removes_a_transition(panel, doc):
    doc.select(("scenes", 1))
    row = panel.row("transition")
    assert row is not None and isinstance(row.editor, TransitionEditor)
    editor = row.editor
    editor.combo.setCurrentIndex(editor.combo.findText("crossfade"))
    editor.combo.activated.emit(editor.combo.currentIndex())
    assert doc.data["scenes"][1]["transition"] == {"type": "crossfade", "duration": 1.0}
    editor.duration.spin.setValue(0.8)
    assert doc.data["scenes"][1]["transition"]["duration"] == 0.8
    assert doc.undo_stack.undoText() == "Change scene 2 › transition › duration"
    editor.combo.setCurrentIndex(0)
    editor.combo.activated.emit(0)
    assert "transition" not in doc.data["scenes"][1]


def test_src_picker_shows_what_the_probe_found_for_a_generated_clip(panel, doc, tmp_path, qtbot):
    write_clip(tmp_path / "media" / "clip.mp4", seconds=1.0, fps=10)
    doc.select(VIDEO)
    row = panel.row("src")
    assert row is not None and isinstance(row.editor, SourceEditor)
    editor = row.editor
    qtbot.waitUntil(
        lambda: editor.outcome is not None and not editor.outcome.pending, timeout=10000
    )
    assert editor.outcome is not None and editor.outcome.ok
    text = editor.info.text()
    assert "160×90" in text
    assert "1 s" in text
    assert "10 fps" in text
    assert "audio" in text


def test_src_picker_shows_the_probe_error_for_a_broken_file(panel, doc, tmp_path, qtbot):
    broken = tmp_path / "media" / "broken.mp4"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    doc.select(VIDEO)
    row = panel.row("src")
    assert row is not None and isinstance(row.editor, SourceEditor)
    editor = row.editor
    editor.edit.setText("media/broken.mp4")
    editor.edit.editingFinished.emit()
    assert doc.data["scenes"][0]["elements"][1]["src"] == "media/broken.mp4"
    qtbot.waitUntil(
        lambda: editor.outcome is not None and not editor.outcome.pending, timeout=10000
    )
    assert editor.outcome is not None and not editor.outcome.ok
    assert "not a video, audio or image file" in editor.info.text()


def test_choosing_a_file_in_the_script_folder_writes_a_relative_path(panel, doc, tmp_path, qtbot):
    clip = write_clip(tmp_path / "media" / "other.mp4")
    doc.select(VIDEO)
    row = panel.row("src")
    assert row is not None and isinstance(row.editor, SourceEditor)
    row.editor.set_path(clip)
    assert doc.data["scenes"][0]["elements"][1]["src"] == "media/other.mp4"
    qtbot.waitUntil(lambda: row.editor.outcome is not None and row.editor.outcome.ok, timeout=10000)


def test_a_thousand_scenes_edit_elsewhere_is_cheap_and_does_not_rebuild(qtbot, tmp_path):
    data = {
        "scenes": [
            {"duration": 2, "elements": [{"type": "text", "text": f"scene {i}"}]}
            for i in range(1000)
        ]
    }
    document = ScriptDocument(dumps(data))
    widget = InspectorPanel(document)
    qtbot.addWidget(widget)
    document.select(("scenes", 500, "elements", 0))
    row = widget.row("font_size")
    started = time.perf_counter()
    for i in range(20):
        document.set_value(("scenes", i, "duration"), 3 + i, merge=False)
    elapsed = time.perf_counter() - started
    assert widget.row("font_size") is row
    assert elapsed < 2.0
    document.close()


def test_bad_shapes_never_crash(panel, doc):
    for text in (
        '{"scenes": [5, {"duration": 1, "elements": ["x", {"type": 7}]}]}',
        '{"scenes": [{"duration": 1, "transition": "fade", "background": 12}]}',
        '{"width": "wide", "quality": "ultra", "exports": {"a": 1}, "scenes": []}',
        "[1, 2]",
    ):
        doc.set_text(text)
        doc.validate_now()
        for path in ((), ("scenes", 0), ("scenes", 1), ("scenes", 1, "elements", 0)):
            doc.select(path)
            doc.select(path, (*path, "duration"))
        doc.select(("scenes", 1, "elements", 1))
    doc.set_text('{"scenes": [{"duration": 1, "elements": [{"type": 7}]}]}')
    doc.select(("scenes", 0, "elements", 0))
    row = panel.row("type")
    assert row is not None
    assert "invalid" in row.editor.combo.currentText()  # type: ignore[attr-defined]
    assert doc.value(("scenes", 0, "elements", 0, "type")) == 7


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server for files in `tmp_path / "www"`."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_src_is_probed_only_when_asked_then_shows_the_clip(panel, doc, served, qtbot):
    root, base = served
    write_clip(root / "remote.mp4", seconds=2.0, fps=10)
    doc.select(VIDEO)
    row = panel.row("src")
    assert row is not None and isinstance(row.editor, SourceEditor)
    editor = row.editor
    editor.edit.setText(f"{base}/remote.mp4")
    editor.edit.editingFinished.emit()
    qtbot.waitUntil(lambda: editor.outcome is not None, timeout=5000)
    assert editor.outcome is not None and editor.outcome.pending
    assert "not downloaded" in editor.info.text()
    assert not editor.fetch.isHidden()
    editor.fetch.click()
    qtbot.waitUntil(lambda: probed(editor), timeout=15000)
    assert editor.outcome is not None and editor.outcome.ok, editor.info.text()
    assert "160×90" in editor.info.text() and "2 s" in editor.info.text()
    assert editor.fetch.isHidden()


def _ink(pixmap) -> tuple[int, int, int]:
    """The colour of an icon's opaque pixels."""
    image = pixmap.toImage()
    for y in range(image.height()):
        for x in range(image.width()):
            colour = image.pixelColor(x, y)
            if colour.alpha() == 255:
                return colour.red(), colour.green(), colour.blue()
    raise AssertionError("the icon has no opaque pixel")


def test_switching_to_a_dark_palette_redraws_icons_in_the_new_text_colour(panel, doc, qtbot):
    from PySide6.QtGui import QPalette

    doc.select(TEXT)
    app = QApplication.instance()
    before = QPalette(app.palette())
    dark = QPalette(before)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#17181a"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e8eaed"))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(lambda: _ink(panel.icon.pixmap()) == (0xE8, 0xEA, 0xED), timeout=2000)
        assert panel.row("font_size") is not None
    finally:
        app.setPalette(before)


def test_typing_not_yet_committed_goes_to_its_own_object_when_the_selection_moves(
    panel, doc, qtbot
):
    doc.select(("scenes", 0))
    row = panel.row("name")
    assert row is not None and isinstance(row.editor, TextEditor)
    edit = row.editor.edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "Opening")
    doc.select(("scenes", 1))  # e.g. a shortcut, before the typing pause ends
    assert doc.data["scenes"][0]["name"] == "Opening"
    assert doc.data["scenes"][1]["name"] == "Outro"
    qtbot.wait(TEXT_COMMIT_WAIT_MS)
    assert doc.data["scenes"][1]["name"] == "Outro"


def test_header_links_go_up_to_the_scene_and_the_movie(panel, doc):
    doc.select(TEXT)
    assert panel.title.text() == "Text element"
    panel.subtitle.linkActivated.emit("scene")
    assert panel.path == ("scenes", 0)
    assert panel.title.text() == "Scene 1 — Intro"
    panel.subtitle.linkActivated.emit("movie")
    assert panel.path == ()
    assert panel.title.text() == "Movie"


def test_null_size_says_what_it_works_out_to_and_stepping_starts_there(panel, doc):
    doc.select(VIDEO)
    spin = number(panel, "width").spin
    assert spin.text() == "canvas (640 px)"
    spin.stepBy(1)
    assert doc.data["scenes"][0]["elements"][1]["width"] == 640
    duration = number(panel, "duration").spin
    assert duration.text() == "to scene end (4 s)"
    doc.set_value(("scenes", 0, "duration"), 6)
    assert duration.text() == "to scene end (6 s)"
    doc.set_value(("width",), 1280)
    assert number(panel, "height").spin.text() == "canvas (360 px)"
    assert number(panel, "width").spin.text() == "640 px"  # set now, not auto


def test_dragging_a_number_label_scrubs_the_value_in_one_undo_step(panel, doc, qtbot):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    doc.select(TEXT)
    row = panel.row("font_size")
    assert row is not None
    label = row.label

    def mouse(kind: QEvent.Type, x: float, button: Qt.MouseButton) -> None:
        buttons = (
            Qt.MouseButton.LeftButton
            if kind != QEvent.Type.MouseButtonRelease
            else (Qt.MouseButton.NoButton)
        )
        event = QMouseEvent(
            kind,
            QPointF(x, 5),
            label.mapToGlobal(QPointF(x, 5)),
            button,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(label, event)

    mouse(QEvent.Type.MouseButtonPress, 5, Qt.MouseButton.LeftButton)
    for x in range(7, 47, 2):
        mouse(QEvent.Type.MouseMove, x, Qt.MouseButton.NoButton)
    mouse(QEvent.Type.MouseButtonRelease, 45, Qt.MouseButton.LeftButton)
    assert doc.data["scenes"][0]["elements"][0]["font_size"] == 58  # 40 px at 4 px a step
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Change scene 1 › element 1 › font_size"


def test_fields_follow_the_active_schema_of_a_connected_service(panel, doc, qtbot):
    from app.script.schema import Schema, build_schema

    doc.set_value(("scenes", 1, "transition"), {"type": "fade", "duration": 0.5})
    doc.select(("scenes", 1))
    assert panel.row("transition") is not None and not panel.row("transition").unknown
    served = build_schema()
    del served["$defs"]["Scene"]["properties"]["transition"]  # a service without our extension
    with qtbot.waitSignal(doc.validated, timeout=3000):
        doc.set_schema(Schema.from_dict(served, source="https://render.example/schema"))
    row = panel.row("transition")
    assert row is not None and row.unknown  # shown as it is, with the service's verdict
    assert "Unrecognized key 'transition'" in row.message.text()
    with qtbot.waitSignal(doc.validated, timeout=3000):
        doc.set_schema(None)
    assert not panel.row("transition").unknown
