"""Field editors: built from the schema, showing values truthfully (never clamped or "fixed"),
emitting only on the user's changes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.media.probe import MediaInfo
from app.script.schema import bundled_schema
from app.studio.document import MISSING
from app.studio.field_editors import (
    BoolEditor,
    ColorEditor,
    EditorContext,
    EnumEditor,
    FieldRow,
    FieldSpec,
    FontEditor,
    NumberEditor,
    RawEditor,
    SourceEditor,
    TextEditor,
    TransitionEditor,
    color_text,
    describe_media,
    field_specs,
    make_editor,
)


def spec(kind: str, key: str, element_type: str | None = None) -> FieldSpec:
    specs = {s.key: s for s in field_specs(bundled_schema().document, kind, element_type)}
    return specs[key]


class Recorder:
    def __init__(self, editor) -> None:
        self.calls: list[tuple] = []
        editor.committed.connect(lambda subpath, value: self.calls.append((subpath, value)))


def test_specs_come_from_the_schema_with_units_ranges_and_defaults():
    font_size = spec("element", "font_size", "text")
    assert (font_size.minimum, font_size.maximum, font_size.unit) == (1, 1000, "px")
    assert font_size.default == 48.0
    duration = spec("element", "duration", "video")
    assert duration.nullable and duration.exclusive_minimum and duration.unit == "s"
    assert spec("element", "position", "image").enum[0] == "top-left"
    assert spec("element", "color", "text").is_color
    assert spec("element", "src", "audio").is_src
    assert spec("element", "opacity", "text").is_percent
    assert spec("scene", "duration").required
    transition = spec("scene", "transition")
    assert {child.key for child in transition.children} == {"type", "duration"}
    assert spec("movie", "width").multiple_of == 2
    # an unknown element type: only `type` to fix
    assert [s.key for s in field_specs(bundled_schema().document, "element", "bogus")] == ["type"]
    # audio has no layout
    keys = {s.key for s in field_specs(bundled_schema().document, "element", "audio")}
    assert "position" not in keys and "fade_in" in keys


def test_editor_kinds_follow_the_schema(qtbot):
    context = EditorContext()
    cases = {
        ("element", "font_size", "text"): NumberEditor,
        ("element", "color", "text"): ColorEditor,
        ("element", "position", "text"): EnumEditor,
        ("element", "italic", "text"): BoolEditor,
        ("element", "text", "text"): TextEditor,
        ("element", "font_family", "text"): FontEditor,
        ("element", "src", "video"): SourceEditor,
        ("scene", "transition", None): TransitionEditor,
        ("movie", "exports", None): RawEditor,
    }
    for (kind, key, element_type), expected in cases.items():
        editor = make_editor(spec(kind, key, element_type), context)
        qtbot.addWidget(editor)
        assert type(editor) is expected, key


def test_number_shows_its_unit_and_range_and_an_out_of_range_value_as_it_is(qtbot):
    editor = NumberEditor(spec("element", "font_size", "text"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value(36)
    assert editor.spin.suffix() == " px"
    assert editor.spin.maximum() == 1000 and editor.spin.minimum() == 1
    assert editor.spin.text() == "36 px"
    editor.show_value(5000)  # written in the JSON editor: shown, not clamped
    assert editor.spin.value() == 5000
    assert calls == []  # showing never emits
    editor.spin.stepBy(-1)
    assert calls == [((), 4999)]
    editor.show_value(36)
    assert editor.spin.maximum() == 1000  # the schema's range again


def test_percent_fraction_and_nullable_auto(qtbot):
    opacity = NumberEditor(spec("element", "opacity", "text"))
    qtbot.addWidget(opacity)
    calls = Recorder(opacity).calls
    opacity.show_value(0.25)
    assert opacity.spin.text() == "25 %"
    opacity.spin.setValue(60)
    assert calls[-1] == ((), 0.6)
    width = NumberEditor(spec("element", "max_width", "text"))
    qtbot.addWidget(width)
    calls = Recorder(width).calls
    width.show_value(None)
    assert width.spin.text() == "auto"
    width.spin.stepBy(1)
    assert calls and isinstance(calls[-1][1], int | float) and calls[-1][1] > 0
    width.show_value(200)
    width.spin.setValue(width.spin.minimum())
    assert calls[-1] == ((), None)


def test_number_refuses_what_it_cannot_show(qtbot):
    editor = NumberEditor(spec("movie", "width"))
    qtbot.addWidget(editor)
    assert editor.accepts(1280) and editor.accepts(MISSING)
    assert not editor.accepts("1280")
    assert not editor.accepts(True)
    assert not editor.accepts(1280.5)  # an integer field
    assert not editor.accepts(None)  # not nullable


def test_enum_shows_an_invalid_value_as_a_marked_extra_choice(qtbot):
    editor = EnumEditor(spec("movie", "quality"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("ultra")
    assert "ultra" in editor.combo.currentText() and "invalid" in editor.combo.currentText()
    editor.combo.activated.emit(editor.combo.findText("medium"))
    assert calls == [((), "medium")]
    editor.show_value("medium")
    assert editor.combo.count() == 3  # the extra choice is gone


def test_colour_text_keeps_alpha_in_css_order():
    assert color_text(QColor(255, 0, 0)) == "#FF0000"
    assert color_text(QColor(255, 0, 0, 0x80)) == "#FF000080"


def test_colour_editor_shows_alpha_and_marks_text_that_is_not_a_colour(qtbot):
    editor = ColorEditor(spec("element", "background_color", "text"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("#00000080")
    assert editor.swatch.color is not None and editor.swatch.color.alpha() == 0x80
    editor.hex.setText("#abc")
    editor.hex.editingFinished.emit()
    assert calls == [((), "#abc")]
    editor.hex.setText("nope")
    editor.hex.editingFinished.emit()
    assert len(calls) == 1
    assert editor.hex.property("invalidInput") is True
    editor.show_value("red")  # the document's own invalid value: shown as it is
    assert editor.hex.text() == "red"
    assert editor.swatch.color is None and editor.swatch.invalid
    editor.set_color(QColor(1, 2, 3, 4))
    assert calls[-1] == ((), "#01020304")
    editor.hex.setText("")
    editor.hex.editingFinished.emit()
    assert calls[-1] == ((), None)  # a nullable colour cleared: none


def test_raw_editor_reads_json_or_keeps_text(qtbot):
    editor = RawEditor(FieldSpec("odd"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("long")
    assert editor.edit.text() == '"long"'
    editor.edit.setText("12")
    editor.edit.editingFinished.emit()
    editor.edit.setText("twelve")
    editor.edit.editingFinished.emit()
    assert calls == [((), 12), ((), "twelve")]


def test_escape_gives_up_typing(qtbot):
    editor = TextEditor(spec("scene", "name"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("Intro")
    editor.edit.setFocus()
    qtbot.keyClicks(editor.edit, "xyz")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Escape)
    assert editor.edit.text() == "Intro"
    qtbot.wait(900)
    assert calls == []


def test_cleared_optional_text_removes_the_key(qtbot):
    editor = TextEditor(spec("scene", "name"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("Intro")
    editor.edit.setText("")
    editor.edit.editingFinished.emit()
    assert calls == [((), MISSING)]


def test_font_editor_offers_the_bundled_family_and_flags_one_not_installed(qtbot):
    editor = FontEditor(spec("element", "font_family", "text"))
    qtbot.addWidget(editor)
    editor.show_value(MISSING)
    assert editor.combo.currentText().startswith("Inter")
    editor.show_value("No Such Font 123")
    assert editor.combo.currentText() == "No Such Font 123"
    assert not editor.note.isHidden()
    assert "falls back" in editor.note.text()


def test_row_shows_default_then_raw_then_typed_in_place(qtbot):
    row = FieldRow(spec("element", "font_size", "text"), EditorContext())
    qtbot.addWidget(row)
    row.show_value(MISSING)
    assert row.shows_default and not row.shows_raw
    row.show_value("big")
    assert row.shows_raw and not row.shows_default
    row.show_value(30)
    assert not row.shows_raw
    assert row.editor.spin.value() == 30  # type: ignore[attr-defined]


def test_media_description_names_size_duration_fps_and_audio():
    info = MediaInfo(
        duration=12.5,
        width=1920,
        height=1080,
        fps=29.97,
        variable_frame_rate=False,
        rotation=0,
        has_video=True,
        has_audio=True,
        video_codec="h264",
        audio_codec="aac",
        is_still_image=False,
    )
    assert describe_media(info) == "1920×1080 · 12.50 s · 29.97 fps · h264 · audio (aac)"


def test_focused_checkbox_gets_space_even_when_the_window_binds_it(qtbot):
    from PySide6.QtGui import QKeySequence, QShortcut
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    window = QWidget()
    qtbot.addWidget(window)
    editor = BoolEditor(spec("element", "italic", "text"))
    QVBoxLayout(window).addWidget(editor)
    played: list[bool] = []
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), window)
    shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
    shortcut.activated.connect(lambda: played.append(True))
    calls = Recorder(editor).calls
    editor.show_value(False)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    editor.check.setFocus()
    qtbot.waitUntil(editor.check.hasFocus)
    qtbot.keyClick(editor.check, Qt.Key.Key_Space)
    assert calls == [((), True)]
    assert played == []


def test_transition_with_odd_keys_or_values_is_shown_raw(qtbot):
    row = FieldRow(spec("scene", "transition"), EditorContext())
    qtbot.addWidget(row)
    row.show_value({"type": "fade", "duration": 0.5})
    assert not row.shows_raw
    row.show_value({"type": "fade", "duration": "slow"})
    assert row.shows_raw and row.raw.edit.text() == '{"type": "fade", "duration": "slow"}'
    row.show_value({"type": "fade", "easing": "in"})
    assert row.shows_raw
    row.show_value("fade")
    assert row.shows_raw


def test_choosing_the_bundled_family_removes_the_key(qtbot):
    editor = FontEditor(spec("element", "font_family", "text"))
    qtbot.addWidget(editor)
    calls = Recorder(editor).calls
    editor.show_value("No Such Font 123")
    editor.combo.activated.emit(0)
    assert calls == [((), MISSING)]
    other = FontEditor(spec("element", "font_family", "text"))
    qtbot.addWidget(other)
    assert other.combo.model() is editor.combo.model()  # one shared list of families
