"""The Scenes dock: rows follow the document, actions are single readable undo steps, thumbnails
are the compositor's own frames, problems are flagged, and 1,000 scenes stay quick."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QLineEdit

from app.render.preview import PreviewSource
from app.studio.document import ScriptDocument, dumps
from app.studio.scenes_panel import (
    DurationRole,
    ProblemsRole,
    ScenesPanel,
    ThumbnailRole,
    problem_colour,
)
from app.studio.thumbnails import thumbnail_scale


def _script(scenes: int = 3) -> dict:
    return {
        "width": 320,
        "height": 180,
        "scenes": [
            {
                "name": f"S{i}",
                "duration": 2 + i,
                "background": ["#c03020", "#2040c0", "#20a040", "#808020"][i % 4],
                "elements": [{"type": "text", "text": f"hello {i}"}],
            }
            for i in range(scenes)
        ],
    }


@pytest.fixture
def make_panel(qtbot):
    made: list[tuple[ScriptDocument, ScenesPanel]] = []

    def make(data: dict | str, file_path: Path | None = None) -> tuple[ScriptDocument, ScenesPanel]:
        text = data if isinstance(data, str) else dumps(data)
        document = ScriptDocument(text, file_path=file_path)
        document.validate_now()
        panel = ScenesPanel(document)
        qtbot.addWidget(panel)
        panel.resize(360, 500)
        panel.show()
        made.append((document, panel))
        return document, panel

    yield make
    for document, panel in made:
        panel.shutdown()
        document.close()


def names(document: ScriptDocument) -> list[str]:
    return [s.get("name", "") for s in document.data["scenes"]]


def select_row(panel: ScenesPanel, row: int) -> None:
    panel.view.setCurrentIndex(panel.model.index(row))


def test_rows_show_name_duration_and_default_names(make_panel):
    data = _script(2)
    del data["scenes"][1]["name"]
    _document, panel = make_panel(data)
    model = panel.model
    assert model.rowCount() == 2
    assert model.index(0).data() == "S0"
    assert model.index(1).data() == "Scene 2"
    assert model.index(1).data(DurationRole) == 3


def test_add_scene_goes_after_the_selected_one_as_one_named_step(make_panel):
    document, panel = make_panel(_script())
    select_row(panel, 0)
    panel.add_action.trigger()
    scenes = document.data["scenes"]
    assert len(scenes) == 4
    assert scenes[1]["duration"] == 5 and scenes[1]["elements"] == []
    assert scenes[1]["background"] == "#c03020"  # the selected scene's look carries over
    assert document.undo_stack.count() == 1
    assert document.undo_stack.undoText() == "Add scene 2"
    assert document.selection[0] == ("scenes", 1)
    assert panel.current_row() == 1
    document.undo_stack.undo()
    assert names(document) == ["S0", "S1", "S2"]


def test_duplicate_with_ctrl_d_copies_the_scene_after_it(make_panel, qtbot):
    document, panel = make_panel(_script())
    select_row(panel, 1)
    panel.view.setFocus()
    panel.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.view)
    qtbot.keyClick(panel.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert names(document) == ["S0", "S1", "S1 copy", "S2"]
    assert document.data["scenes"][2]["elements"] == document.data["scenes"][1]["elements"]
    assert document.undo_stack.undoText() == "Duplicate scene 2"
    assert document.undo_stack.count() == 1


def test_delete_key_deletes_the_selected_scene(make_panel, qtbot):
    document, panel = make_panel(_script())
    select_row(panel, 1)
    panel.view.setFocus()
    panel.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.view)
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert names(document) == ["S0", "S2"]
    assert document.undo_stack.undoText() == "Delete scene 2"
    assert panel.current_row() == 1  # the next scene is selected
    document.undo_stack.undo()
    assert names(document) == ["S0", "S1", "S2"]


def test_deleting_the_last_scene_is_refused_with_a_message(make_panel, qtbot):
    document, panel = make_panel(_script(1))
    select_row(panel, 0)
    with qtbot.waitSignal(panel.message) as said:
        panel.delete_action.trigger()
    assert "at least one scene" in said.args[0]
    assert panel.notice.isVisible()
    assert len(document.data["scenes"]) == 1
    assert document.undo_stack.count() == 0


def test_move_up_and_down_are_one_step_each_and_keep_the_scene_selected(make_panel):
    document, panel = make_panel(_script())
    select_row(panel, 0)
    assert not panel.move_up_action.isEnabled()
    panel.move_down_action.trigger()
    assert names(document) == ["S1", "S0", "S2"]
    assert document.undo_stack.undoText() == "Move scene 1"
    assert panel.current_row() == 1
    panel.move_down_action.trigger()
    assert names(document) == ["S1", "S2", "S0"]
    assert not panel.move_down_action.isEnabled()
    panel.move_up_action.trigger()
    assert names(document) == ["S1", "S0", "S2"]
    assert document.undo_stack.count() == 3


def _drop(panel: ScenesPanel, mime: QMimeData, pos: QPoint) -> QDropEvent:
    """Drag `mime` over the list to `pos` and drop it there, as a real drag does."""
    viewport = panel.view.viewport()
    actions = Qt.DropAction.MoveAction | Qt.DropAction.CopyAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the QPoint constructors
        enter = QDragEnterEvent(pos, actions, mime, buttons, keys)
        QApplication.sendEvent(viewport, enter)
        assert enter.isAccepted()
        move = QDragMoveEvent(pos, actions, mime, buttons, keys)
        QApplication.sendEvent(viewport, move)
        assert move.isAccepted()
    event = QDropEvent(QPointF(pos), actions, mime, buttons, keys)
    QApplication.sendEvent(viewport, event)
    return event


def test_dragging_a_row_between_others_moves_that_scene(make_panel):
    document, panel = make_panel(_script(4))
    view = panel.view
    mime = panel.model.mimeData([panel.model.index(0)])
    # just above row 3's top edge = between scenes 2 and 3
    rect = view.visualRect(panel.model.index(3))
    _drop(panel, mime, QPoint(rect.center().x(), rect.top() + 2))
    assert names(document) == ["S1", "S2", "S0", "S3"]
    assert document.undo_stack.count() == 1
    assert document.undo_stack.undoText() == "Move scene 1"
    assert document.selection[0] == ("scenes", 2)


def test_dropping_a_row_onto_another_takes_its_place(make_panel):
    document, panel = make_panel(_script(4))
    model = panel.model
    assert model.dropMimeData(
        model.mimeData([model.index(3)]), Qt.DropAction.MoveAction, -1, 0, model.index(1)
    )
    assert names(document) == ["S0", "S3", "S1", "S2"]
    assert model.dropMimeData(
        model.mimeData([model.index(0)]), Qt.DropAction.MoveAction, -1, 0, QModelIndex()
    )
    assert names(document) == ["S3", "S1", "S2", "S0"]
    assert document.undo_stack.count() == 2


def test_rename_inline_sets_the_name_and_clearing_it_removes_the_key(make_panel, qtbot):
    document, panel = make_panel(_script())
    select_row(panel, 2)
    panel.rename_action.trigger()
    editor = panel.view.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    assert editor.text() == "S2"
    editor.setText("Finale")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next loop turn
    qtbot.waitUntil(lambda: document.data["scenes"][2]["name"] == "Finale")
    assert document.undo_stack.undoText() == "Rename scene 3"
    # keys typed while renaming edit the name, they do not delete or duplicate scenes
    panel.rename_action.trigger()
    editor = panel.view.findChild(QLineEdit)
    editor.setCursorPosition(0)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.text() == "inale"
    assert len(document.data["scenes"]) == 3
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert document.data["scenes"][2]["name"] == "Finale"
    panel.model.setData(panel.model.index(2), "  ")
    assert "name" not in document.data["scenes"][2]
    assert panel.model.index(2).data() == "Scene 3"


def test_selecting_rows_and_selection_from_elsewhere_stay_in_step(make_panel, qtbot):
    document, panel = make_panel(_script())
    select_row(panel, 1)
    assert document.selection[0] == ("scenes", 1)
    document.select(("scenes", 2, "elements", 0), ("scenes", 2, "elements", 0, "text"))
    assert panel.current_row() == 2
    # following another view does not throw away its element selection...
    assert document.selection[0] == ("scenes", 2, "elements", 0)
    # ...but clicking the scene's row selects the scene itself
    rect = panel.view.visualRect(panel.model.index(2))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert document.selection[0] == ("scenes", 2)


def test_a_scene_with_an_error_is_flagged_in_red(make_panel, qtbot):
    data = _script()
    data["scenes"][1]["duration"] = "long"
    document, panel = make_panel(data)
    problems = panel.model.index(1).data(ProblemsRole)
    assert [p.path for p in problems] == [("scenes", 1, "duration")]
    assert panel.model.index(0).data(ProblemsRole) == []
    tooltip = panel.model.index(1).data(Qt.ItemDataRole.ToolTipRole)
    assert "Expected number, received string" in tooltip
    red = problem_colour(panel.palette(), "error")

    def reds_in(row: int) -> int:
        rect = panel.view.visualRect(panel.model.index(row))
        image = panel.view.viewport().grab(rect).toImage()
        return sum(
            1
            for y in range(0, image.height(), 2)
            for x in range(0, image.width(), 2)
            if _close(QColor(image.pixel(x, y)), red, 30)
        )

    assert reds_in(1) > 20
    assert reds_in(0) == 0
    # fixing it clears the flag
    document.set_value(("scenes", 1, "duration"), 3)
    document.validate_now()
    assert panel.model.index(1).data(ProblemsRole) == []
    assert reds_in(1) == 0


def test_a_scene_with_only_warnings_is_flagged_in_amber(make_panel):
    data = _script(2)
    data["scenes"][0]["elements"][0]["x"] = 5000  # off the canvas: a warning, not an error
    _document, panel = make_panel(data)
    (problem,) = panel.model.index(0).data(ProblemsRole)
    assert problem.severity == "warning"
    palette = panel.palette()
    amber, red = problem_colour(palette, "warning"), problem_colour(palette, "error")
    rect = panel.view.visualRect(panel.model.index(0))
    image = panel.view.viewport().grab(rect).toImage()
    pixels = [
        QColor(image.pixel(x, y)) for y in range(image.height()) for x in range(image.width())
    ]
    assert sum(_close(p, amber, 30) for p in pixels) > 20
    assert not any(_close(p, red, 30) for p in pixels)


def _close(a: QColor, b: QColor, tolerance: int) -> bool:
    return (
        abs(a.red() - b.red()) <= tolerance
        and abs(a.green() - b.green()) <= tolerance
        and abs(a.blue() - b.blue()) <= tolerance
    )


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rows = data.reshape(image.height(), image.bytesPerLine() // 4, 4)
    return rows[:, : image.width(), :3].copy()  # a copy: the QImage's memory goes with it


def test_thumbnail_is_the_preview_frame_at_the_scenes_first_second(make_panel, qtbot, tmp_path):
    Image.new("RGB", (64, 64), (250, 200, 0)).save(tmp_path / "sun.png")
    data = _script(3)
    data["scenes"][1]["elements"] = [
        {
            "type": "image",
            "src": "sun.png",
            "width": 100,
            "height": 100,
            "position": "top-left",
            "animation": "fade-in",
            "animation_duration": 2,  # half faded in at the thumbnail's time: time matters
        }
    ]
    document, panel = make_panel(data, file_path=tmp_path / "movie.json")
    model = panel.model
    assert model.index(1).data(ThumbnailRole) is None  # queued; a placeholder meanwhile
    # wait for the picture itself (not the first `ready`: another row's may come first),
    # generously: a loaded machine once took longer than 10 s
    qtbot.waitUntil(lambda: model.index(1).data(ThumbnailRole) is not None, timeout=30000)
    thumb = model.index(1).data(ThumbnailRole)
    assert isinstance(thumb, QImage) and not thumb.isNull()
    movie = document.movie
    scale = thumbnail_scale(movie, model.thumbnails._ratio)
    source = PreviewSource(movie, tmp_path)
    try:
        expected = source.frame(2 + 1.0, scale)  # scene 2 starts at 2 s; its first second
        earlier = source.frame(2 + 0.5, scale)
    finally:
        source.close()
    assert thumb.size() == expected.size()
    diff = np.abs(_pixels(thumb).astype(int) - _pixels(expected).astype(int))
    assert diff.max() <= 2
    # the picture really is scene 2 at 1 s: its background, the image half faded in
    assert _close(QColor(thumb.pixel(thumb.width() - 2, thumb.height() - 2)), QColor("#2040c0"), 3)
    corner = QColor(thumb.pixel(2, 2))
    assert 0x20 + 40 < corner.red() < 250 - 40
    assert not _close(corner, QColor(earlier.pixel(2, 2)), 10)


def test_only_the_edited_scene_gets_a_new_thumbnail(make_panel, qtbot):
    document, panel = make_panel(_script(3))
    thumbs = panel.model.thumbnails
    for row in range(3):
        panel.model.index(row).data(ThumbnailRole)
    qtbot.waitUntil(lambda: all(panel.model.index(r).data(ThumbnailRole) for r in range(3)))
    before = thumbs.rendered
    document.set_value(("scenes", 1, "background"), "#ffffff")
    document.validate_now()
    for row in range(3):
        panel.model.index(row).data(ThumbnailRole)
    qtbot.waitUntil(lambda: panel.model.index(1).data(ThumbnailRole) is not None)
    thumb = panel.model.index(1).data(ThumbnailRole)
    assert _close(QColor(thumb.pixel(1, 1)), QColor("#ffffff"), 3)
    assert thumbs.rendered == before + 1
    # reordering reuses the cached pictures
    document.move(("scenes",), 0, 2)
    document.validate_now()
    for row in range(3):
        assert panel.model.index(row).data(ThumbnailRole) is not None
    assert thumbs.rendered == before + 1
    # so does renaming: a name is not part of the picture
    document.set_value(("scenes", 0, "name"), "Renamed")
    document.validate_now()
    assert panel.model.index(0).data(ThumbnailRole) is not None
    assert thumbs.rendered == before + 1


def _thumbnail(panel: ScenesPanel, qtbot, row: int) -> QImage:
    qtbot.waitUntil(lambda: panel.model.index(row).data(ThumbnailRole) is not None, timeout=10000)
    return panel.model.index(row).data(ThumbnailRole)


def test_thumbnails_stay_live_while_another_scene_is_broken(make_panel, qtbot):
    document, panel = make_panel(_script(3))
    document.set_value(("scenes", 0, "duration"), "long")
    document.validate_now()
    assert document.validation.movie is None  # the movie as a whole cannot render now
    assert panel.model.index(0).data(ThumbnailRole) is None  # the broken scene has none
    document.set_value(("scenes", 2, "background"), "#ffffff")
    document.validate_now()
    assert _close(QColor(_thumbnail(panel, qtbot, 2).pixel(1, 1)), QColor("#ffffff"), 3)
    # an insert shifts rows: each row still shows its own scene
    document.insert(("scenes", 1), {"duration": 1, "background": "#00ff00"})
    document.validate_now()
    assert _close(QColor(_thumbnail(panel, qtbot, 1).pixel(1, 1)), QColor("#00ff00"), 3)
    assert _close(QColor(_thumbnail(panel, qtbot, 2).pixel(1, 1)), QColor("#2040c0"), 3)


def test_a_thumbnail_refreshes_when_its_media_file_changes(make_panel, qtbot, tmp_path):
    picture = tmp_path / "card.png"
    Image.new("RGB", (32, 18), (255, 0, 0)).save(picture)
    data = _script(1)
    data["scenes"][0]["elements"] = [
        {"type": "image", "src": "card.png", "width": 320, "height": 180, "fit": "fill"}
    ]
    _document, panel = make_panel(data, file_path=tmp_path / "movie.json")
    assert _close(QColor(_thumbnail(panel, qtbot, 0).pixel(20, 20)), QColor(255, 0, 0), 3)
    Image.new("RGB", (32, 18), (0, 0, 255)).save(picture)  # re-exported by another program
    qtbot.waitUntil(
        lambda: (
            (image := panel.model.index(0).data(ThumbnailRole)) is not None
            and _close(QColor(image.pixel(20, 20)), QColor(0, 0, 255), 3)
        ),
        timeout=10000,
    )


def test_media_dropped_on_a_scene_become_its_elements_in_one_step(make_panel, qtbot, tmp_path):
    Image.new("RGB", (32, 32), (0, 200, 0)).save(tmp_path / "logo.png")
    (tmp_path / "notes.txt").write_text("plain text, not media\n" * 10)
    document, panel = make_panel(_script(), file_path=tmp_path / "movie.json")
    mime = QMimeData()
    mime.setUrls(
        [
            QUrl.fromLocalFile(str(tmp_path / "logo.png")),
            QUrl.fromLocalFile(str(tmp_path / "notes.txt")),
        ]
    )
    rect = panel.view.visualRect(panel.model.index(2))
    with qtbot.waitSignal(panel.message, timeout=10000) as said:
        _drop(panel, mime, rect.center())
    assert "notes.txt" in said.args[0]
    qtbot.waitUntil(lambda: len(document.data["scenes"][2]["elements"]) == 2)
    assert document.data["scenes"][2]["elements"][1] == {"type": "image", "src": "logo.png"}
    assert document.undo_stack.count() == 1
    assert document.undo_stack.undoText() == "Add image to scene 3"


def test_bad_input_is_shown_without_crashing(make_panel):
    text = dumps(
        {
            "scenes": [
                {"duration": "long", "elements": [5, "x", None]},
                "not a scene",
                {"duration": 2, "transition": "soon", "name": 7},
                {"duration": 1, "transition": {"type": 3, "duration": "x"}, "elements": {}},
            ]
        }
    )
    document, panel = make_panel(text)
    model = panel.model
    assert model.rowCount() == 4
    assert model.index(0).data(DurationRole) is None
    assert model.index(1).data() == "Scene 2"
    assert model.index(2).data() == "Scene 3"
    assert model.index(1).data(ProblemsRole)
    panel.grab()  # paints every row
    select_row(panel, 1)
    panel.duplicate_action.trigger()
    panel.rename_action.trigger()
    assert model.setData(model.index(2), "named") is False  # a string is not a scene object
    document.set_text("{ not json")
    panel.grab()
    assert model.rowCount() == 5  # the last good data stays on screen


def test_a_thousand_scenes_build_and_paint_quickly(make_panel, qtbot):
    started = time.perf_counter()
    document, panel = make_panel(_script(1000))
    panel.grab()
    built = time.perf_counter() - started
    model = panel.model
    assert model.rowCount() == 1000
    assert model.index(999).data() == "S999"
    started = time.perf_counter()
    document.select(("scenes", 900))
    panel.view.viewport().repaint()
    document.set_value(("scenes", 901, "name"), "Nine hundred and two")
    panel.view.viewport().repaint()
    assert time.perf_counter() - started < 0.5
    assert built < 3.0  # includes validating 1,000 scenes once
    # thumbnails are made for the rows on screen only, not for all 1,000
    thumbs = model.thumbnails
    visible = [
        row
        for row in range(1000)
        if panel.view.visualRect(model.index(row)).intersects(panel.view.viewport().rect())
    ]
    assert 0 < len(visible) < 20
    qtbot.waitUntil(lambda: all(model.index(r).data(ThumbnailRole) for r in visible), timeout=10000)
    assert thumbs.rendered <= len(visible) + 8


def _frame(document: ScriptDocument, panel: ScenesPanel, row: int, folder: Path) -> QImage:
    """What the preview draws at scene `row`'s thumbnail time, at the thumbnail's scale."""
    thumbs = panel.model.thumbnails
    subject = thumbs._subject(row)  # the movie it is drawn from (the scene alone, here)
    assert subject is not None
    source = PreviewSource(subject.movie, folder)
    try:
        return source.frame(subject.t, thumbnail_scale(subject.movie, thumbs._ratio)).copy()
    finally:
        source.close()


def _same(a: QImage, b: QImage) -> bool:
    if a.size() != b.size():
        return False
    return int(np.abs(_pixels(a).astype(int) - _pixels(b).astype(int)).max()) <= 2


def _card_script(src: str) -> dict:
    data = _script(2)
    data["scenes"][0]["elements"] = [
        {"type": "image", "src": src, "width": 320, "height": 180, "fit": "fill"}
    ]
    return data


def test_a_thumbnail_drawn_before_its_image_existed_is_redrawn_when_the_file_appears(
    make_panel, qtbot, tmp_path
):
    """The welcome example: its media are generated while the window is already up. A scene
    drawn before its file existed shows the placeholder; the file's folder is watched (the
    nearest one that exists), and when the file appears the scene is drawn again."""
    document, panel = make_panel(_card_script("media/dawn.png"), tmp_path / "movie.json")
    model = panel.model
    placeholder = _thumbnail(panel, qtbot, 0)
    assert _same(placeholder, _frame(document, panel, 0, tmp_path))  # the red-X placeholder
    rendered = model.thumbnails.rendered
    (tmp_path / "media").mkdir()  # the folder first, then the file, as a generator does
    Image.new("RGB", (32, 18), (0, 200, 0)).save(tmp_path / "media" / "dawn.png")
    qtbot.waitUntil(
        lambda: (
            (image := model.index(0).data(ThumbnailRole)) is not None
            and _close(QColor(image.pixel(20, 20)), QColor(0, 200, 0), 3)
        ),
        timeout=20000,
    )
    thumb = model.index(0).data(ThumbnailRole)
    assert not _same(thumb, placeholder)
    assert _same(thumb, _frame(document, panel, 0, tmp_path))  # exactly the preview's frame
    assert model.thumbnails.rendered == rendered + 1  # scene 2 (no media) was not redrawn


def test_the_next_validation_redraws_a_scene_whose_file_appeared(make_panel, qtbot, tmp_path):
    """Without any file-system notice (watching switched off here) the next validation still
    notices: each key holds its files' state, so only the scene using the file changes key."""
    document, panel = make_panel(_card_script("dawn.png"), tmp_path / "movie.json")
    thumbs = panel.model.thumbnails
    thumbs._watcher.fileChanged.disconnect()
    thumbs._watcher.directoryChanged.disconnect()
    placeholder = _thumbnail(panel, qtbot, 0)
    _thumbnail(panel, qtbot, 1)
    keys = [thumbs.key(0), thumbs.key(1)]
    Image.new("RGB", (32, 18), (0, 0, 250)).save(tmp_path / "dawn.png")
    document.validate_now()
    assert thumbs.key(0) != keys[0] and thumbs.key(1) == keys[1]
    written = thumbs.key(0)
    thumb = _thumbnail(panel, qtbot, 0)
    assert not _same(thumb, placeholder)
    assert _same(thumb, _frame(document, panel, 0, tmp_path))
    # rewritten with the same size: the new mtime alone makes a new key
    stat = (tmp_path / "dawn.png").stat()
    Image.new("RGB", (32, 18), (250, 0, 0)).save(tmp_path / "dawn.png")
    os.utime(tmp_path / "dawn.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    document.validate_now()
    assert thumbs.key(0) not in (keys[0], written) and thumbs.key(1) == keys[1]
    assert _close(QColor(_thumbnail(panel, qtbot, 0).pixel(20, 20)), QColor(250, 0, 0), 3)


def test_a_changed_file_redraws_exactly_the_scenes_that_use_it(make_panel, qtbot, tmp_path):
    Image.new("RGB", (32, 18), (255, 0, 0)).save(tmp_path / "a.png")
    data = _script(3)
    card = {"type": "image", "src": "a.png", "width": 320, "height": 180, "fit": "fill"}
    data["scenes"][0]["elements"] = [card]
    data["scenes"][2]["elements"] = [dict(card)]
    _document, panel = make_panel(data, file_path=tmp_path / "movie.json")
    model = panel.model
    for row in range(3):
        _thumbnail(panel, qtbot, row)
    before = model.thumbnails.rendered
    Image.new("RGB", (48, 27), (0, 0, 255)).save(tmp_path / "a.png")  # re-exported
    for row in (0, 2):
        qtbot.waitUntil(
            lambda row=row: (
                (image := model.index(row).data(ThumbnailRole)) is not None
                and _close(QColor(image.pixel(20, 20)), QColor(0, 0, 255), 3)
            ),
            timeout=20000,
        )
    assert _close(QColor(model.index(1).data(ThumbnailRole).pixel(1, 1)), QColor("#2040c0"), 3)
    assert model.thumbnails.rendered == before + 2
