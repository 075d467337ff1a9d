"""The main window: title, files (open, save, recent, drop), unsaved-changes questions, docks and
their remembered layout, menus, and keyboard shortcuts that leave text inputs alone."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from app.script.problems import INVALID_JSON
from app.studio.document import dumps
from app.studio.recovery import RecoveryStore
from app.studio.window import PANELS, MainWindow, load_panel_class
from tests.gui.support import FileSizeLimit

Button = QMessageBox.StandardButton


def _script(name: str = "Intro", scenes: int = 1) -> dict:
    return {
        "width": 640,
        "height": 360,
        "scenes": [{"name": f"{name} {i}" if i else name, "duration": 2} for i in range(scenes)],
    }


def make_window(tmp_path: Path, panels=(), **kwargs) -> MainWindow:
    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    store = RecoveryStore(tmp_path / "recovery")
    return MainWindow(settings=settings, recovery=store, panels=panels, **kwargs)


def close_quietly(window: MainWindow) -> None:
    window.quit_without_asking()
    window.recovery.close()
    window.deleteLater()


@pytest.fixture
def window(qtbot, tmp_path: Path):
    win = make_window(tmp_path)
    win.show()
    yield win
    close_quietly(win)


@pytest.fixture
def full_window(qtbot, tmp_path: Path):
    win = make_window(tmp_path, panels=PANELS)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    close_quietly(win)


def answer_next_dialog(button: Button, seen: list[str]) -> None:
    """Answer the next modal message box with `button`, noting its text in `seen`."""

    def attempt(tries: int = 0) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(f"{box.text()}\n{box.informativeText()}")
            box.button(button).click()
        elif tries < 300:
            QTimer.singleShot(10, lambda: attempt(tries + 1))

    QTimer.singleShot(0, attempt)


def write(path: Path, data: dict | str) -> Path:
    path.write_text(data if isinstance(data, str) else dumps(data))
    return path


# ----------------------------------------------------------------------------- title and files


def test_the_title_shows_the_file_name_and_a_modified_mark(window, tmp_path: Path) -> None:
    path = write(tmp_path / "promo.json", _script())
    assert window.open_path(path)
    assert window.windowTitle() == "promo.json[*] — Reelsmith"
    assert not window.isWindowModified()
    window.document.set_value(("scenes", 0, "duration"), 4)
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()


def test_edit_menu_undo_names_the_documents_step(window) -> None:
    window.document.set_value(("scenes", 0, "duration"), 4)
    assert window.undo_action.text() == "&Undo Change scene 1 › duration"
    assert window.undo_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert QKeySequence("Ctrl+Shift+Z") in window.redo_action.shortcuts()
    window.undo_action.trigger()
    assert window.redo_action.text() == "&Redo Change scene 1 › duration"


def test_an_invalid_json_file_opens_anyway_with_its_error_located(qtbot, window, tmp_path) -> None:
    broken = '{\n  "scenes": [\n    {"duration": 3,}\n  ]\n}\n'
    path = write(tmp_path / "broken.json", broken)
    assert window.open_path(path)
    assert window.document.text == broken
    assert window.document.file_path == path
    problems = window.document.validate_now().problems
    assert problems[0].code == INVALID_JSON
    assert "line 3" in window.statusBar().currentMessage()


def test_opening_a_missing_file_names_it_and_keeps_the_current_script(window, tmp_path) -> None:
    before = window.document.text
    seen: list[str] = []
    answer_next_dialog(Button.Ok, seen)
    assert not window.open_path(tmp_path / "nope.json")
    assert "nope.json" in seen[0] and "does not exist" in seen[0]
    assert window.document.text == before


def test_a_missing_file_given_at_start_becomes_a_new_script_saved_there(window, tmp_path) -> None:
    target = tmp_path / "new.json"
    assert window.load_path(target, create_missing=True)
    assert window.document.file_path == target
    assert "Save creates it" in window.statusBar().currentMessage()
    assert window.save()
    assert json.loads(target.read_text())["scenes"]


def test_save_writes_the_text_marks_clean_and_remembers_the_file(window, tmp_path) -> None:
    path = write(tmp_path / "promo.json", _script())
    window.open_path(path)
    window.document.set_value(("scenes", 0, "name"), "Saved name")
    assert window.save()
    assert path.read_text() == window.document.text
    assert not window.document.is_modified
    assert window.recent.paths()[0] == path


def test_save_as_an_untitled_script_ties_it_to_the_new_file(window, tmp_path) -> None:
    window.new_blank()
    target = tmp_path / "fresh"
    assert window.save_as(target)
    assert (
        window.document.file_path == tmp_path / "fresh.json" or window.document.file_path == target
    )
    assert window.windowTitle().startswith(window.document.file_path.name)


def test_a_failed_save_keeps_the_old_file_and_the_edits_and_names_the_file(
    window, tmp_path: Path
) -> None:
    path = write(tmp_path / "promo.json", _script())
    old = path.read_text()
    window.open_path(path)
    window.document.set_value(("scenes", 0, "name"), "x" * 100_000)
    seen: list[str] = []
    answer_next_dialog(Button.Ok, seen)
    with FileSizeLimit(len(old) + 10):
        assert not window.save()
    assert path.read_text() == old
    assert str(path) in seen[0]
    assert "was not changed" in seen[0]
    assert window.document.is_modified  # the edits are still here


def test_closing_with_unsaved_changes_asks_and_cancel_keeps_the_window(window) -> None:
    window.document.set_value(("scenes", 0, "duration"), 4)
    seen: list[str] = []
    answer_next_dialog(Button.Cancel, seen)
    assert not window.close()
    assert "Save the changes" in seen[0]
    assert window.isVisible()
    assert window.document.is_modified


def test_closing_and_discarding_removes_the_recovery_copy(qtbot, tmp_path: Path) -> None:
    win = make_window(tmp_path, autosave_interval=0.05)
    win.show()
    win.document.set_value(("scenes", 0, "duration"), 4)
    qtbot.waitUntil(lambda: win.recovery.has_copy("doc"), timeout=3000)
    seen: list[str] = []
    answer_next_dialog(Button.Discard, seen)
    assert win.close()
    assert not win.recovery.has_copy("doc")
    win.recovery.close()


def test_closing_and_saving_writes_the_file(qtbot, tmp_path: Path) -> None:
    path = write(tmp_path / "promo.json", _script())
    win = make_window(tmp_path)
    win.show()
    win.open_path(path)
    win.document.set_value(("scenes", 0, "name"), "Closing save")
    seen: list[str] = []
    answer_next_dialog(Button.Save, seen)
    assert win.close()
    assert json.loads(path.read_text())["scenes"][0]["name"] == "Closing save"
    win.recovery.close()


def test_open_recent_lists_existing_files_and_prunes_missing_ones(window, tmp_path) -> None:
    first = write(tmp_path / "first.json", _script())
    second = write(tmp_path / "second.json", _script())
    window.open_path(first)
    window.open_path(second)
    second.unlink()
    window.recent_menu.aboutToShow.emit()
    labels = [a.text() for a in window.recent_menu.actions() if a.text()]
    assert labels[0] == "&1 first.json"
    assert not any("second" in label for label in labels)
    window.recent_menu.actions()[0].trigger()
    assert window.document.file_path == first


def _drop(target, path: Path) -> bool:
    """Drag `path` over `target` and drop it there; True when the drop was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with warnings.catch_warnings():  # PySide marks the only constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            QPoint(10, 10),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, event)
    return event.isAccepted()


def test_dropping_a_json_file_opens_it_asking_first_when_modified(qtbot, window, tmp_path) -> None:
    path = write(tmp_path / "dropped.json", _script("Dropped"))
    window.document.set_value(("scenes", 0, "duration"), 9)
    seen: list[str] = []
    answer_next_dialog(Button.Discard, seen)
    assert _drop(window, path)
    qtbot.waitUntil(lambda: window.document.file_path == path)
    assert "Save the changes" in seen[0]
    assert window.document.data["scenes"][0]["name"] == "Dropped"


def test_dropping_other_files_is_left_to_the_panels(window, tmp_path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    before = window.document.text
    _drop(window, image)
    assert window.document.text == before


def test_new_from_example_opens_an_untitled_copy_with_its_variables(window) -> None:
    from app.studio.window import example_scripts

    title_card = dict((p.stem, p) for _t, p in example_scripts())["title-card"]
    assert window.new_from_example(title_card, prepare_media=False)
    assert window.document.file_path is None
    assert window.windowTitle().startswith("Title card (example)")
    assert window.document.variables == {"headline": "Hello, Reelsmith"}
    assert not window.document.is_modified


def test_the_status_bar_counts_problems_and_shows_the_local_service(window) -> None:
    window.document.set_value(("scenes", 0, "duration"), "long")
    window.document.validate_now()
    assert window.problem_label.text() == "1 error"
    window.set_service_status("Local service: http://127.0.0.1:48213")
    assert window.service_label.text() == "Local service: http://127.0.0.1:48213"


# ----------------------------------------------------------------------------- docks and layout

LANDED = [spec for spec in PANELS if load_panel_class(spec) is not None]


def test_every_landed_panel_is_a_dock_with_a_view_menu_toggle(full_window) -> None:
    assert sorted(full_window.docks) == sorted(spec.key for spec in LANDED)
    toggles = {a.text() for a in full_window.view_menu.actions()}
    for spec in LANDED:
        dock = full_window.docks[spec.key]
        assert spec.title in toggles
        assert dock.isVisible() or full_window.tabifiedDockWidgets(dock)
        dock.toggleViewAction().trigger()
        assert dock.isHidden()
        dock.toggleViewAction().trigger()
        assert not dock.isHidden()


def test_default_layout_puts_the_docks_where_users_expect(full_window) -> None:
    area = Qt.DockWidgetArea
    expected = {
        "scenes": area.LeftDockWidgetArea,
        "preview": area.LeftDockWidgetArea,  # beside Scenes, to its right
        "inspector": area.RightDockWidgetArea,
        "script": area.RightDockWidgetArea,
        "timeline": area.BottomDockWidgetArea,
    }
    for key, where in expected.items():
        if key in full_window.docks:
            assert full_window.dockWidgetArea(full_window.docks[key]) == where, key
    if {"script", "problems"} <= set(full_window.docks):
        tabbed = full_window.tabifiedDockWidgets(full_window.docks["script"])
        assert full_window.docks["problems"] in tabbed


def test_the_default_layout_holds_still_while_the_window_relays_out(full_window, qtbot) -> None:
    """Each keystroke re-lays out the window (status texts change): no dock may creep."""
    docks = full_window.docks
    if not {"scenes", "preview"} <= set(docks):
        pytest.skip("needs the Scenes and Preview docks")
    scenes, preview = docks["scenes"], docks["preview"]
    qtbot.wait(50)
    before = (scenes.geometry(), preview.geometry())
    assert scenes.geometry().right() < preview.geometry().left()  # side by side
    assert preview.width() > 2 * scenes.width()  # the preview gets the most room
    for _ in range(5):
        full_window.layout().invalidate()
        qtbot.wait(20)
    assert (scenes.geometry(), preview.geometry()) == before


def test_the_layout_is_remembered_and_reset(qtbot, tmp_path: Path) -> None:
    if len(LANDED) < 2:
        pytest.skip("needs two landed panels")
    first, second = LANDED[0].key, LANDED[1].key
    win = make_window(tmp_path, panels=PANELS)
    win.resize(790, 600)
    win.show()
    qtbot.waitExposed(win)
    win.docks[first].hide()
    win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, win.docks[second])
    size = win.size()
    close_quietly(win)

    again = make_window(tmp_path, panels=PANELS)
    again.show()
    qtbot.waitExposed(again)
    # (the offscreen screen is 800 px wide: Qt keeps a restored window on it)
    assert abs(again.size().height() - size.height()) <= 8
    assert again.docks[first].isHidden()
    assert again.dockWidgetArea(again.docks[second]) == Qt.DockWidgetArea.BottomDockWidgetArea
    again.reset_layout_action.trigger()
    assert not again.docks[first].isHidden()
    close_quietly(again)


# ----------------------------------------------------------------------------- keyboard


def _needs(window: MainWindow, *keys: str) -> None:
    missing = [k for k in keys if k not in window.panels]
    if missing:
        pytest.skip(f"panels not landed yet: {', '.join(missing)}")


def test_space_typed_in_the_json_editor_inserts_a_space(qtbot, full_window) -> None:
    _needs(full_window, "script", "preview")
    editor = full_window.panels["script"].editor  # type: ignore[attr-defined]
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    cursor = editor.textCursor()
    cursor.setPosition(1)
    editor.setTextCursor(cursor)
    before = full_window.document.text
    qtbot.keyClick(editor, Qt.Key.Key_Space)
    assert editor.toPlainText() == before[:1] + " " + before[1:]
    assert not full_window.document.playhead.playing


@pytest.mark.parametrize("panel", ["scenes", "timeline"])
def test_space_with_the_scene_list_or_timeline_focused_toggles_play(
    qtbot, full_window, panel: str
) -> None:
    _needs(full_window, panel, "preview")
    full_window.document.validate_now()
    view = full_window.panels[panel].view  # type: ignore[attr-defined]
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: full_window.document.playhead.playing, timeout=2000)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not full_window.document.playhead.playing, timeout=2000)


def test_playback_menu_shows_the_previews_shortcuts(full_window) -> None:
    _needs(full_window, "preview")
    shortcuts = {a.shortcut().toString() for a in full_window.playback_menu.actions()}
    assert {"Space", "J", "K", "L", "Left", "Right", "Home", "End"} <= shortcuts


def test_drop_on_a_child_widget_opens_the_script(qtbot, full_window, tmp_path) -> None:
    _needs(full_window, "script")
    path = write(tmp_path / "onto-editor.json", _script("Onto editor"))
    editor = full_window.panels["script"].editor  # type: ignore[attr-defined]
    _drop(editor.viewport(), path)
    qtbot.waitUntil(lambda: full_window.document.file_path == path)
    assert "onto-editor" not in full_window.document.data["scenes"][0]["name"]


def test_ctrl_d_duplicates_the_scene_from_the_timeline_and_is_shown_in_edit(qtbot, full_window):
    _needs(full_window, "scenes", "timeline")
    shortcuts = {a.text(): a.shortcut().toString() for a in full_window.edit_menu.actions()}
    assert "Ctrl+D" in shortcuts.values()
    full_window.document.select(("scenes", 0))
    view = full_window.panels["timeline"].view  # type: ignore[attr-defined]
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    before = len(full_window.document.data["scenes"])
    qtbot.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(full_window.document.data["scenes"]) == before + 1
    assert full_window.document.undo_stack.undoText().lower().startswith("duplicate")


def test_delete_in_the_json_editor_deletes_a_character_not_a_scene(qtbot, full_window) -> None:
    _needs(full_window, "script", "scenes")
    editor = full_window.panels["script"].editor  # type: ignore[attr-defined]
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    cursor = editor.textCursor()
    cursor.setPosition(0)
    editor.setTextCursor(cursor)
    scenes = len(full_window.document.data["scenes"])
    text = editor.toPlainText()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.toPlainText() == text[1:]
    assert len(full_window.document.data["scenes"]) == scenes


# ----------------------------------------------------------------------------- local service


def test_the_local_service_starts_and_explains_a_missing_keyring(tmp_path, monkeypatch) -> None:
    from app.studio.main import LocalService

    monkeypatch.setenv("REELSMITH_HOME", str(tmp_path / "home"))
    service = LocalService(port=0)
    service.start()
    try:
        assert service.ok and service.url and service.url.startswith("http://127.0.0.1:")
        assert service.text == f"Local service: {service.url}" or "keyring" in service.text
        import keyring

        if type(keyring.get_keyring()).__module__ == "keyring.backends.fail":
            assert "no keyring" in service.text
            assert "Install and unlock a keyring" in service.tooltip
    finally:
        service.stop()
    assert service.thread is None


def test_a_port_held_by_another_program_leaves_the_studio_without_service(tmp_path, monkeypatch):
    import socket

    from app.studio.main import LocalService

    monkeypatch.setenv("REELSMITH_HOME", str(tmp_path / "home"))
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        service = LocalService(port=holder.getsockname()[1])
        service.start()
        assert not service.ok
        assert service.text == "Local service: not running"
        assert "used by another program" in service.tooltip
        assert service.thread is None
    finally:
        holder.close()


def test_a_panel_that_fails_to_build_leaves_the_studio_open_without_it(qtbot, tmp_path) -> None:
    from app.studio.window import PanelSpec

    # QLabel(document) raises TypeError: a stand-in for a panel whose constructor fails.
    broken = PanelSpec("broken", "Broken", "PySide6.QtWidgets", "QLabel", "mdi6.bug", "Alt+9")
    win = make_window(tmp_path, panels=(broken,))
    win.show()
    assert "broken" not in win.docks
    assert "TypeError" in win.failed_panels["broken"]
    assert win.statusBar().currentMessage() == "Could not open: Broken (details in the log)"
    close_quietly(win)


def test_a_warning_while_opening_before_the_window_shows_waits_for_it(qtbot, tmp_path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"scenes": [{"name": "Caf\xe9", "duration": 2}]}')
    win = make_window(tmp_path)
    assert win.load_path(latin)  # not shown yet: no dialog blocks start-up
    seen: list[str] = []
    answer_next_dialog(Button.Ok, seen)
    win.show()
    qtbot.waitUntil(lambda: bool(seen))
    assert "not UTF-8" in seen[0]
    assert win.document.data["scenes"][0]["name"] == "Caf\ufffd"
    close_quietly(win)


# ----------------------------------------------------------------------------- changes on disk


def test_a_file_changed_by_another_program_reloads_as_an_undoable_step(qtbot, window, tmp_path):
    path = write(tmp_path / "watched.json", _script("Before"))
    window.open_path(path)
    before = window.document.text
    write(path, _script("Changed elsewhere"))
    qtbot.waitUntil(lambda: "Changed elsewhere" in window.document.text, timeout=5000)
    assert not window.document.is_modified
    assert "Reloaded watched.json" in window.statusBar().currentMessage()
    window.document.undo_stack.undo()
    assert window.document.text == before


def test_our_own_save_is_not_taken_for_a_change_on_disk(qtbot, window, tmp_path) -> None:
    path = write(tmp_path / "mine.json", _script())
    window.open_path(path)
    window.document.set_value(("scenes", 0, "name"), "Saved by us")
    assert window.save()
    qtbot.wait(600)
    assert window.document.undo_stack.undoText() != "Reload from disk"
    write(path, _script("Then changed elsewhere"))  # and the watch survived the rename
    qtbot.waitUntil(lambda: "Then changed elsewhere" in window.document.text, timeout=5000)


def test_a_change_on_disk_while_modified_asks_and_keep_mine_keeps_the_edits(
    qtbot, window, tmp_path
):
    path = write(tmp_path / "both.json", _script())
    window.open_path(path)
    window.document.set_value(("scenes", 0, "name"), "My unsaved edit")
    mine = window.document.text
    seen: list[str] = []
    answer_next_dialog_with("Keep Mine", seen)
    write(path, _script("Theirs"))
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert "changed by another program" in seen[0]
    assert window.document.text == mine and window.document.is_modified


def answer_next_dialog_with(label: str, seen: list[str]) -> None:
    def attempt(tries: int = 0) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(f"{box.text()}\n{box.informativeText()}")
            next(b for b in box.buttons() if b.text() == label).click()
        elif tries < 500:
            QTimer.singleShot(10, lambda: attempt(tries + 1))

    QTimer.singleShot(0, attempt)


def test_without_a_display_the_studio_explains_instead_of_aborting(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env["REELSMITH_HOME"] = str(tmp_path)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "app"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "needs a display" in result.stderr


@pytest.mark.slow
def test_reelsmith_studio_file_opens_it_and_sigterm_quits_cleanly(tmp_path) -> None:
    import os
    import signal as signals
    import subprocess
    import sys
    import time

    script = write(tmp_path / "cli.json", _script("From the command line"))
    home = tmp_path / "home"
    env = {**os.environ, "REELSMITH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    root = Path(__file__).resolve().parents[2]
    studio = subprocess.Popen(
        [sys.executable, "-m", "app", "studio", str(script)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = home / "logs" / "studio.log"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and "window shown: cli.json — Reelsmith" in log.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the studio did not show cli.json")
        studio.send_signal(signals.SIGTERM)
        assert studio.wait(60) == 0
    finally:
        if studio.poll() is None:
            studio.kill()
    assert "studio closed" in log.read_text()
