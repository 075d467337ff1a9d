"""Recovery copies: written while unsaved, removed when saved, offered after a crash, restored as
unsaved edits of the original file, which is never overwritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.studio.document import ScriptDocument, dumps
from app.studio.recovery import Autosaver, RecoveryDialog, RecoveryStore
from app.studio.window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str = "Intro") -> dict:
    return {"width": 640, "height": 360, "scenes": [{"name": name, "duration": 2}]}


@pytest.fixture
def store(tmp_path: Path):
    recovery = RecoveryStore(tmp_path / "recovery")
    yield recovery
    recovery.close()


@pytest.fixture
def window(qtbot, tmp_path: Path, store: RecoveryStore):
    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, recovery=store, autosave_interval=0.05, panels=())
    # Closing without the unsaved-changes question (pytest-qt closes added widgets itself).
    qtbot.addWidget(win, before_close_func=lambda w: w.quit_without_asking())
    yield win


def _copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.meta.json"))


def test_a_recovery_copy_is_written_while_unsaved_and_removed_on_save(
    qtbot, tmp_path: Path, store: RecoveryStore
) -> None:
    original = tmp_path / "movie.json"
    original.write_text(dumps(_script()))
    doc = ScriptDocument(original.read_text(), file_path=original)
    saver = Autosaver(doc, store, interval=0.05)
    doc.set_value(("scenes", 0, "name"), "Edited")
    qtbot.waitUntil(lambda: len(_copies(store.folder)) == 1, timeout=3000)
    meta = json.loads(_copies(store.folder)[0].read_text())
    assert meta["original"] == str(original)
    assert meta["pid"] == os.getpid()
    copy_text = _copies(store.folder)[0].with_name(
        _copies(store.folder)[0].name.replace(".meta.json", ".json")
    )
    assert json.loads(copy_text.read_text())["scenes"][0]["name"] == "Edited"
    assert json.loads(original.read_text())["scenes"][0]["name"] == "Intro"

    doc.mark_saved(original)
    qtbot.waitUntil(lambda: not _copies(store.folder), timeout=3000)
    saver.close()
    doc.close()


def test_undoing_back_to_the_saved_state_removes_the_copy(qtbot, store: RecoveryStore) -> None:
    doc = ScriptDocument(dumps(_script()))
    saver = Autosaver(doc, store, interval=0.05)
    doc.set_value(("scenes", 0, "duration"), 9)
    qtbot.waitUntil(lambda: len(_copies(store.folder)) == 1, timeout=3000)
    doc.undo_stack.undo()
    qtbot.waitUntil(lambda: not _copies(store.folder), timeout=3000)
    saver.close()
    doc.close()


def test_nothing_is_written_while_the_document_is_unmodified(qtbot, store: RecoveryStore) -> None:
    doc = ScriptDocument(dumps(_script()))
    saver = Autosaver(doc, store, interval=0.02)
    qtbot.wait(150)
    assert not _copies(store.folder)
    assert saver.write_now() is None
    saver.close()
    doc.close()


def _dead_session_copy(folder: Path, original: Path | None, text: str) -> None:
    """A recovery copy left by a process that was then killed with SIGKILL."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from PySide6.QtCore import QCoreApplication
        from app.studio.recovery import RecoveryStore
        app = QCoreApplication([])
        store = RecoveryStore(Path({str(folder)!r}))
        original = {str(original) if original else None!r}
        store.write("doc", {text!r}, Path(original) if original else None, "movie.json")
        print("written", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)


def test_copies_of_a_killed_process_are_offered_but_not_those_of_a_live_one(
    tmp_path: Path, store: RecoveryStore
) -> None:
    live = RecoveryStore(store.folder)  # another studio, still running
    live.write("doc", "{}", None, "live.json")
    _dead_session_copy(store.folder, tmp_path / "movie.json", '{"dead": true}')
    orphans = store.orphans()
    assert [c.display_name for c in orphans] == ["movie.json"]
    assert orphans[0].read_text() == '{"dead": true}'
    assert orphans[0].original == tmp_path / "movie.json"
    live.close()


def test_restore_opens_the_copy_as_unsaved_edits_of_the_original_file(
    qtbot, tmp_path: Path, window: MainWindow, store: RecoveryStore
) -> None:
    original = tmp_path / "movie.json"
    saved = dumps(_script("Saved"))
    original.write_text(saved)
    edited = dumps(_script("Lost edit"))
    _dead_session_copy(store.folder, original, edited)

    dialog = window.offer_recovery()
    assert isinstance(dialog, RecoveryDialog)
    assert "movie.json" in dialog.list.item(0).text()
    dialog.restore_button.click()

    doc = window.document
    assert doc.text == edited
    assert doc.file_path == original
    assert doc.is_modified
    assert window.isWindowModified()
    assert original.read_text() == saved  # nothing written over the user's file
    # The old copy went; this session keeps its own until the user saves.
    assert store.orphans() == []
    assert store.has_copy("doc")
    assert doc.undo_stack.undoText() == "Restore unsaved edits"
    doc.undo_stack.undo()
    assert doc.text == saved
    assert not doc.is_modified


def test_discard_deletes_the_copy(qtbot, tmp_path: Path, window: MainWindow, store) -> None:
    _dead_session_copy(store.folder, None, '{"scenes": []}')
    dialog = window.offer_recovery()
    assert dialog is not None
    dialog.discard_button.click()
    assert store.orphans() == []
    assert not dialog.isVisible()
    assert window.offer_recovery() is None


# ----------------------------------------------------------------------------- the real studio

DRIVER_EDIT = """
import json, sys
from pathlib import Path
from app.studio.main import run_studio

def ready(window):
    window.document.set_value(("scenes", 0, "name"), "Edited, never saved")
    Path(sys.argv[2]).write_text(window.document.text)
    print("EDITED", flush=True)

if __name__ == "__main__":
    sys.exit(run_studio(Path(sys.argv[1]), start_service=False, on_ready=ready))
"""

DRIVER_RESTORE = """
import json, os, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from app.studio.main import run_studio
from app.studio.recovery import RecoveryDialog

def ready(window):
    dialog = window.findChild(RecoveryDialog)
    offered = [dialog.list.item(i).text() for i in range(dialog.list.count())] if dialog else []
    if dialog is not None:
        dialog.restore_button.click()
    doc = window.document
    Path(sys.argv[2]).write_text(json.dumps({
        "offered": offered,
        "text": doc.text,
        "modified": doc.is_modified,
        "file": str(doc.file_path),
    }))
    os._exit(0)

if __name__ == "__main__":
    sys.exit(run_studio(Path(sys.argv[1]), start_service=False, on_ready=ready))
"""


@pytest.mark.slow
def test_after_sigkill_the_next_start_offers_and_restores_the_lost_edit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "studio.ini").write_text("[recovery]\nautosave_seconds=0.2\n")
    original = tmp_path / "promo.json"
    saved = dumps(_script("As saved"))
    original.write_text(saved)
    env = {**os.environ, "REELSMITH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    edit_driver = tmp_path / "edit.py"
    edit_driver.write_text(DRIVER_EDIT)
    restore_driver = tmp_path / "restore.py"
    restore_driver.write_text(DRIVER_RESTORE)
    edited_file = tmp_path / "edited.json"
    result_file = tmp_path / "result.json"

    studio = subprocess.Popen(
        [sys.executable, str(edit_driver), str(original), str(edited_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert studio.stdout is not None
        assert studio.stdout.readline().strip() == "EDITED"
        recovery = home / "data" / "recovery"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            copies = [p for p in recovery.glob("*.json") if not p.name.endswith(".meta.json")]
            if copies and "Edited, never saved" in copies[0].read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("no recovery copy was written")
    finally:
        studio.send_signal(signal.SIGKILL)
        studio.wait(10)

    again = subprocess.run(
        [sys.executable, str(restore_driver), str(original), str(result_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(result_file.read_text())
    assert len(result["offered"]) == 1 and "promo.json" in result["offered"][0]
    assert result["text"] == edited_file.read_text()
    assert result["modified"] is True
    assert result["file"] == str(original)
    assert original.read_text() == saved


def test_an_untitled_example_is_named_as_the_window_names_it(window: MainWindow, store) -> None:
    from app.studio.window import example_scripts

    slideshow = dict((p.stem, p) for _t, p in example_scripts())["slideshow"]
    window.new_from_example(slideshow, prepare_media=False)
    window.document.set_value(("scenes", 0, "name"), "Edited example")
    window.autosaver.write_now()
    meta = json.loads(next(store.folder.glob("*.meta.json")).read_text())
    assert meta["display_name"] == "Slideshow (example)"
    assert meta["original"] is None
