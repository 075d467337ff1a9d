"""The Preview dock: the canvas shows what the renderer makes, the controls drive the playhead."""

from __future__ import annotations

import warnings
import wave
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PIL import Image
from PySide6.QtCore import QEvent, QIODevice, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.media.audio import AudioTrack
from app.media.proxy import ProxyStore
from app.render.preview import PreviewSource
from app.studio.audio_output import AudioFeed, AudioOutput, default_output_available
from app.studio.document import ScriptDocument, dumps
from app.studio.preview_panel import PreviewPanel, scene_at
from tests.bench.media import moving_clip

FPS = 10


class ManualClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("preview-media")
    moving_clip(folder / "clip.mp4", 2.0, width=320, height=180, fps=FPS, gop=5, audio=False)
    Image.new("RGB", (64, 48), (20, 200, 60)).save(folder / "green.png")
    tone = (6000 * np.sin(np.arange(3 * 48000) / 48000 * 2 * np.pi * 440)).astype("<i2")
    with wave.open(str(folder / "tone.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(tone.tobytes())
    return folder


def _script(video: str = "clip.mp4") -> dict:
    return {
        "width": 320,
        "height": 180,
        "fps": FPS,
        "scenes": [
            {
                "name": "Intro",
                "duration": 1,
                "background": "#203040",
                "elements": [{"type": "text", "text": "Hello", "font_size": 40}],
            },
            {
                "name": "Clip",
                "duration": 2,
                "elements": [
                    {"type": "video", "src": video, "fit": "cover"},
                    {"type": "text", "text": "caption", "position": "bottom-center"},
                ],
            },
        ],
    }


@pytest.fixture
def make_panel(qtbot, media, tmp_path):
    made: list[tuple[PreviewPanel, ScriptDocument]] = []

    def make(script: dict | None = None, clock=None, folder: Path | None = None):
        folder = folder or media
        document = ScriptDocument(dumps(script or _script()), file_path=folder / "movie.json")
        document.validate_now()
        panel = PreviewPanel(
            document,
            clock=clock,
            audio=AudioOutput(available=False),
            proxies=ProxyStore(tmp_path / "proxies"),
        )
        qtbot.addWidget(panel)
        panel.resize(660, 480)
        panel.show()
        qtbot.waitExposed(panel)
        made.append((panel, document))
        return panel, document

    yield make
    for panel, document in made:
        panel.close_player()
        document.close()


def _wait_index(qtbot, panel: PreviewPanel, index: int) -> None:
    qtbot.waitUntil(lambda: panel.player.shown_index == index, timeout=5000)


def _difference(a: QImage, b: QImage) -> float:
    """Mean absolute difference of two images, 0..255."""
    a = a.convertToFormat(QImage.Format.Format_RGB888)
    b = b.convertToFormat(QImage.Format.Format_RGB888)
    assert a.size() == b.size()

    def pixels(image: QImage) -> np.ndarray:
        raw = np.frombuffer(image.constBits(), np.uint8)
        return raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]

    return float(np.abs(pixels(a).astype(int) - pixels(b).astype(int)).mean())


def test_the_canvas_shows_the_frame_the_renderer_makes_at_that_time(qtbot, make_panel, media):
    panel, document = make_panel()
    panel.scale_combo.setCurrentIndex(panel.scale_combo.findData("1/2"))
    document.playhead.seek(1.7)
    _wait_index(qtbot, panel, 17)
    qtbot.waitUntil(lambda: panel.player.image.width() == 160)
    reference = PreviewSource(document.movie, media)
    try:
        expected = reference.frame(1.7, 0.5)
        other = reference.frame(1.2, 0.5)
    finally:
        reference.close()
    assert _difference(panel.player.image, expected) < 1.0
    assert _difference(panel.player.image, other) > 3.0  # the comparison can tell frames apart
    # …and that picture is what the canvas paints, letterboxed at the movie's aspect ratio.
    qtbot.waitUntil(lambda: panel.player.display_image.size() == panel.canvas.device_size())
    rect = panel.canvas.frame_rect()
    assert rect.width() / rect.height() == pytest.approx(320 / 180, rel=0.01)
    grabbed = panel.canvas.grab().toImage()
    dpr = grabbed.devicePixelRatio()
    painted = grabbed.copy(
        round(rect.x() * dpr), round(rect.y() * dpr), round(rect.width() * dpr),
        round(rect.height() * dpr),
    )  # fmt: skip
    scaled = expected.scaled(
        painted.size(),
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    assert _difference(painted, scaled) < 6.0


def test_the_canvas_letterboxes_a_portrait_movie(qtbot, make_panel):
    script = _script()
    script["width"], script["height"] = 180, 320
    panel, _ = make_panel(script)
    rect = panel.canvas.frame_rect()
    assert rect.height() == pytest.approx(panel.canvas.height(), abs=1)
    assert rect.width() < panel.canvas.width() / 2
    assert rect.center().x() == pytest.approx(panel.canvas.width() / 2, abs=1)


def test_the_scale_choice_sets_the_rendered_size(qtbot, make_panel):
    script = _script()
    script["width"], script["height"] = 1280, 720
    panel, _ = make_panel(script)

    def rendered(width: int) -> bool:
        return panel.player.image is not None and panel.player.image.width() == width

    for key, width in (("full", 1280), ("1/4", 320), ("1/2", 640)):
        panel.scale_combo.setCurrentIndex(panel.scale_combo.findData(key))
        qtbot.waitUntil(lambda width=width: rendered(width))
    panel.scale_combo.setCurrentIndex(panel.scale_combo.findData("auto"))
    panel.resize(panel.minimumSizeHint().width(), 300)
    device = panel.canvas.device_size().width()
    assert device < 640
    # Auto: the smallest of the fixed steps (1/8 … full) that covers the canvas's pixels.
    expected = next(w for w in (160, 320, 480, 640, 800, 960, 1120, 1280) if w >= device)
    qtbot.waitUntil(lambda: rendered(expected))
    assert panel.player.display_image.width() == device


def test_scrubbing_seeks_the_playhead_and_updates_the_timecode(qtbot, make_panel):
    panel, document = make_panel()
    bar = panel.scrub
    x = round(bar.x_of(20))
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(x, bar.height() // 2))
    assert document.playhead.time == pytest.approx(2.0)
    assert panel.timecode_text() == "00:00:02:00 / 00:00:03:00"
    _wait_index(qtbot, panel, 20)


def test_playback_advances_and_stops_at_the_end(qtbot, make_panel):
    clock = ManualClock()
    panel, document = make_panel(clock=clock)
    panel.play_action.trigger()
    assert panel.play_action.text() == "Pause"
    clock.now += 1.5
    _wait_index(qtbot, panel, 15)
    clock.now += 5
    qtbot.waitUntil(lambda: not document.playhead.playing)
    assert document.playhead.time == pytest.approx(2.9)
    assert panel.play_action.text() == "Play"
    assert panel.timecode_text() == "00:00:02:09 / 00:00:03:00"


def test_keyboard_transport_steps_frames_and_jumps(qtbot, make_panel):
    panel, document = make_panel()
    panel.activateWindow()
    assert QTest.qWaitForWindowActive(panel)
    panel.canvas.setFocus()
    QTest.keyClick(panel.canvas, Qt.Key.Key_End)
    assert panel.player.current_index == 29
    QTest.keyClick(panel.canvas, Qt.Key.Key_Left)
    assert panel.player.current_index == 28
    QTest.keyClick(panel.canvas, Qt.Key.Key_Home)
    QTest.keyClick(panel.canvas, Qt.Key.Key_Right)
    QTest.keyClick(panel.canvas, Qt.Key.Key_Right)
    assert panel.player.current_index == 2
    QTest.keyClick(panel.canvas, Qt.Key.Key_I)
    QTest.keyClick(panel.canvas, Qt.Key.Key_Right)
    QTest.keyClick(panel.canvas, Qt.Key.Key_O)
    assert (panel.player.loop_in, panel.player.loop_out) == (2, 3)
    QTest.keyClick(panel.canvas, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert panel.player.loop_enabled and panel.loop_action.isChecked()
    QTest.keyClick(panel.canvas, Qt.Key.Key_Space)
    assert document.playhead.playing
    QTest.keyClick(panel.canvas, Qt.Key.Key_K)
    assert not document.playhead.playing
    QTest.keyClick(panel.canvas, Qt.Key.Key_L)
    QTest.keyClick(panel.canvas, Qt.Key.Key_L)
    assert panel.player.rate == 2
    assert panel.rate_label.text() == "+2×"
    QTest.keyClick(panel.canvas, Qt.Key.Key_J)
    QTest.keyClick(panel.canvas, Qt.Key.Key_J)
    assert panel.player.rate == -1
    panel.player.pause()


def test_actions_carry_the_shortcuts_the_playback_menu_shows(make_panel):
    panel, _ = make_panel()
    keys = {a.text(): a.shortcut().toString() for a in panel.playback_actions}
    assert keys["Play"] == "Space"
    assert (keys["Shuttle Reverse"], keys["Shuttle Pause"], keys["Shuttle Forward"]) == (
        "J",
        "K",
        "L",
    )
    assert (keys["Previous Frame"], keys["Next Frame"]) == ("Left", "Right")
    assert (keys["Go to Start"], keys["Go to End"]) == ("Home", "End")
    assert (keys["Set Loop In"], keys["Set Loop Out"]) == ("I", "O")
    assert (keys["Loop"], keys["Clear Loop Range"]) == ("Ctrl+L", "Alt+X")


def test_broken_media_is_listed_and_the_panel_stays_responsive(qtbot, make_panel, tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"garbage bytes, not a video" * 100)
    clock = ManualClock()
    panel, document = make_panel(clock=clock, folder=tmp_path)
    document.playhead.seek(1.5)
    qtbot.waitUntil(lambda: panel.problem_list.count() == 1, timeout=5000)
    assert panel.problem_list.isVisible()
    text = panel.problem_list.item(0).text()
    assert text.startswith("scene 2 › element 1: ")
    assert "clip.mp4" in text
    # The placeholder is drawn and the caption on top of it still renders: the frame exists.
    _wait_index(qtbot, panel, 15)
    panel.play_action.trigger()
    clock.now += 1.0
    _wait_index(qtbot, panel, 25)
    with qtbot.waitSignal(document.selection_changed) as selected:
        panel.problem_list.itemClicked.emit(panel.problem_list.item(0))
    assert selected.args == [("scenes", 1, "elements", 0), ("scenes", 1, "elements", 0, "src")]
    panel.player.pause()


def test_fixing_the_media_clears_the_list(qtbot, make_panel, tmp_path, media):
    (tmp_path / "bad.mp4").write_bytes(b"nope" * 100)
    panel, document = make_panel(_script(video=str(tmp_path / "bad.mp4")))
    document.playhead.seek(1.5)
    qtbot.waitUntil(lambda: panel.problem_list.count() == 1, timeout=5000)
    document.set_value(("scenes", 1, "elements", 0, "src"), str(media / "clip.mp4"))
    document.validate_now()
    qtbot.waitUntil(lambda: panel.problem_list.count() == 0, timeout=5000)
    assert not panel.problem_list.isVisible()


def test_no_audio_device_shows_the_indicator_and_plays_silently(qtbot, make_panel):
    panel, document = make_panel()
    assert panel.audio_label.isVisible()
    assert "No audio output" in panel.audio_label.toolTip()
    panel.player.play()
    qtbot.wait(250)
    assert document.playhead.time > 0.05
    panel.player.pause()


def test_the_fps_readout_measures_frames_shown(qtbot, make_panel):
    panel, _ = make_panel()
    panel.player.play()
    qtbot.wait(1300)
    shown = float(panel.fps_label.text().split()[0])
    assert 6 <= shown <= 11  # a 10 fps movie, played in real time
    panel.player.pause()
    assert panel.fps_label.text() == "– fps"


def _drop(widget, files: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    with warnings.catch_warnings():  # its only constructor takes a QPoint, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            centre.toPoint(),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier(0),
        )
    QApplication.sendEvent(widget, enter)  # Qt delivers a drop only after its drag entered
    assert enter.isAccepted()
    event = QDropEvent(
        centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(widget, event)


def test_dropping_an_image_adds_it_to_the_scene_under_the_playhead(qtbot, make_panel, media):
    panel, document = make_panel()
    document.playhead.seek(1.5)
    steps = document.undo_stack.count()
    with qtbot.waitSignal(document.data_changed, timeout=5000):
        _drop(panel.canvas, [media / "green.png"])
    elements = document.value(("scenes", 1, "elements"))
    assert elements[-1] == {"type": "image", "src": "green.png", "start": 0.5}
    assert document.undo_stack.count() == steps + 1
    assert document.undo_stack.undoText() == "Add image to scene 2"
    document.undo_stack.undo()
    assert len(document.value(("scenes", 1, "elements"))) == 2


def test_dropping_a_non_media_file_changes_nothing(qtbot, make_panel, tmp_path):
    panel, document = make_panel()
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    _drop(panel.canvas, [fake])
    qtbot.waitUntil(panel.message_label.isVisible, timeout=5000)
    assert "notes.mp4" in panel.message_label.text()
    assert document.undo_stack.count() == 0


def test_scene_at_reads_the_document_data():
    data = {"scenes": [{"duration": 1}, {"duration": "bad"}, {"duration": 2}]}
    assert scene_at(data, 0.5) == (0, 0.5)
    assert scene_at(data, 1.5) == (2, 0.5)
    assert scene_at(data, 9) == (2, 0.0)
    assert scene_at({"scenes": []}, 0) is None


def test_a_script_that_never_validated_shows_a_message_not_a_crash(qtbot, make_panel, media):
    document = ScriptDocument('{"scenes": [{"duration": -1}]}', file_path=media / "x.json")
    document.validate_now()
    panel = PreviewPanel(document, audio=False)
    qtbot.addWidget(panel)
    panel.show()
    panel.play_action.trigger()
    QTest.keyClick(panel, Qt.Key.Key_Right)
    assert not panel.play_action.isEnabled()
    assert not document.playhead.playing
    panel.grab()
    panel.close_player()
    document.close()


def test_a_narrow_dock_keeps_the_transport_and_folds_the_options(qtbot, make_panel):
    panel, _ = make_panel()
    assert panel.minimumSizeHint().width() <= 400
    panel.resize(panel.minimumSizeHint().width(), 300)
    qtbot.wait(20)
    play = panel._buttons[panel.play_action]
    assert play.isVisible()
    assert play.geometry().right() < panel.width()
    assert panel.duration_label.geometry().right() <= panel.width()


def test_the_mouse_wheel_steps_frames_on_the_canvas(qtbot, make_panel):
    panel, document = make_panel()
    document.playhead.seek(1.0)
    centre = QPointF(panel.canvas.width() / 2, panel.canvas.height() / 2)
    down = QWheelEvent(
        centre,
        panel.canvas.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, -240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(panel.canvas, down)
    assert panel.player.current_index == 12


def test_copy_frame_puts_the_frame_on_screen_on_the_clipboard(qtbot, make_panel):
    panel, document = make_panel()
    panel.set_scale_mode("1/2")
    document.playhead.seek(1.5)
    qtbot.waitUntil(lambda: panel.player.shown_index == 15 and panel.player.image.width() == 160)
    panel.copy_frame_action.trigger()
    copied = QApplication.clipboard().image()
    assert copied.size() == panel.player.image.size()
    assert _difference(copied, panel.player.image) < 0.5


def test_deleting_the_panel_ends_its_threads(qtbot, media, tmp_path):
    """A window closed without calling close_player must not leave decoders and caches alive."""
    document = ScriptDocument(dumps(_script()), file_path=media / "movie.json")
    document.validate_now()
    panel = PreviewPanel(document, audio=False, proxies=ProxyStore(tmp_path / "proxies"))
    panel.show()
    qtbot.waitUntil(lambda: panel.player.shown_index == 0)
    thread = panel.player.worker._thread
    assert thread.is_alive()
    shiboken6.delete(panel)
    thread.join(timeout=5)
    assert not thread.is_alive()
    document.close()


def test_deleting_an_audio_feed_ends_its_producer(qtbot, media):
    tracks = [AudioTrack(path=media / "tone.wav", start=0.0, duration=3.0, end=3.0)]
    feed = AudioFeed(tracks, 3.0, 0.0)
    feed.open(QIODevice.OpenModeFlag.ReadOnly)
    assert feed.wait_buffered(0.1)
    thread = feed._thread
    shiboken6.delete(feed)
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_typing_a_timecode_jumps_there(qtbot, make_panel):
    panel, document = make_panel()
    panel.activateWindow()
    assert QTest.qWaitForWindowActive(panel)
    edit = panel.timecode_edit
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "2:05")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert panel.player.current_index == 25
    assert document.playhead.time == pytest.approx(2.5)
    assert edit.text() == "00:00:02:05"
    assert not edit.hasFocus()  # the transport keys work again
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "nonsense")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert panel.player.current_index == 25
    assert edit.text() == "00:00:02:05"


@pytest.mark.skipif(default_output_available(), reason="needs a machine without audio output")
def test_a_device_that_fails_to_open_leaves_playback_silent_and_says_so(qtbot, media, tmp_path):
    clip = tmp_path / "sound.mp4"
    moving_clip(clip, 2.0, width=160, height=90, fps=FPS, gop=5, audio=True)
    script = _script(video=str(clip))
    document = ScriptDocument(dumps(script), file_path=media / "movie.json")
    document.validate_now()
    output = AudioOutput(available=True)  # it believes a device is there: opening fails
    panel = PreviewPanel(document, audio=output, proxies=ProxyStore(tmp_path / "proxies"))
    qtbot.addWidget(panel)
    panel.resize(660, 480)
    panel.show()
    assert panel.mute_action.isVisible() and not panel.audio_label.isVisible()
    panel.mute_action.trigger()
    assert output.muted
    qtbot.waitUntil(lambda: bool(panel.player._tracks), timeout=5000)
    document.playhead.seek(1.0)
    panel.player.play()
    qtbot.waitUntil(panel.audio_label.isVisible, timeout=5000)
    assert "audio output stopped" in panel.audio_label.toolTip()
    qtbot.wait(300)
    assert panel.player.playing
    assert document.playhead.time > 1.1  # the picture went on
    panel.close_player()
    document.close()


def test_safe_area_guides_are_drawn_over_the_frame_when_asked(qtbot, make_panel):
    panel, document = make_panel(_script())
    document.playhead.seek(0.2)
    _wait_index(qtbot, panel, 2)
    rect = panel.canvas.frame_rect()
    # Around the title-safe line: 5 % in from the left, halfway down (a dark background).
    x = round(rect.left() + rect.width() * 0.05)
    y = round(rect.top() + rect.height() / 2)

    def brightest() -> int:
        image = panel.canvas.grab().toImage()
        return max(image.pixelColor(x + dx, y).lightness() for dx in range(-2, 3))

    assert brightest() < 100
    panel.safe_areas_action.setChecked(True)
    assert brightest() > 150  # the white guide
    panel.safe_areas_action.setChecked(False)
    assert brightest() < 100


def test_full_screen_preview_gets_the_frames_and_esc_brings_them_back(qtbot, make_panel):
    panel, document = make_panel()
    document.playhead.seek(1.0)
    _wait_index(qtbot, panel, 10)
    QTest.mouseDClick(panel.canvas, Qt.MouseButton.LeftButton)
    view = panel.full_screen_view
    assert view is not None and view.isVisible()
    assert panel.full_screen_action.isChecked()
    big = view.canvas.device_size()
    assert big.width() > panel.canvas.device_size().width()
    qtbot.waitUntil(lambda: panel.player.display_image.size() == big)
    # The transport keys work there, and Esc leaves.
    view.activateWindow()
    assert QTest.qWaitForWindowActive(view)
    QTest.keyClick(view.canvas, Qt.Key.Key_Right)
    assert panel.player.current_index == 11
    QTest.keyClick(view.canvas, Qt.Key.Key_Escape)
    assert panel.full_screen_view is None
    assert not panel.full_screen_action.isChecked()
    small = panel.canvas.device_size()
    qtbot.waitUntil(lambda: panel.player.display_image.size() == small)


def test_hovering_the_scrubber_shows_the_time_under_the_pointer(qtbot, make_panel):
    panel, document = make_panel()
    bar = panel.scrub
    at = QPointF(bar.x_of(15), bar.height() / 2)
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        at,
        bar.mapToGlobal(at),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(bar, move)
    assert bar.hover_text == "00:00:01:05"
    assert document.playhead.time == 0.0  # hovering does not move the playhead


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_a_storm_of_edits_seeks_and_transport_keys_never_breaks_the_player(qtbot, make_panel, seed):
    """Every Qt callback that raised would fail this test (pytest-qt captures them)."""
    import random

    panel, document = make_panel()
    player = panel.player
    rnd = random.Random(seed)
    moves = [
        lambda: document.playhead.seek(rnd.uniform(0, 4)),
        lambda: document.set_value(("scenes", 1, "duration"), rnd.choice([1, 2, 3.5])),
        lambda: document.set_text(document.text.replace('"duration": 1', '"duration": "x"')),
        lambda: document.undo_stack.undo(),
        lambda: panel.set_scale_mode(rnd.choice(["auto", "full", "1/2", "1/4"])),
        player.toggle_play,
        player.shuttle_forward,
        player.shuttle_reverse,
        lambda: player.step(rnd.choice([-1, 1])),
        player.go_to_end,
        player.set_loop_in,
        player.set_loop_out,
        lambda: player.set_loop_enabled(not player.loop_enabled),
        lambda: panel.resize(rnd.randrange(300, 900), rnd.randrange(200, 700)),
        lambda: player.seek_index(rnd.randrange(-5, 50)),
    ]
    for _ in range(150):
        rnd.choice(moves)()
        if rnd.random() < 0.3:
            document.validate_now()
        qtbot.wait(rnd.choice([0, 1, 5]))
    player.pause()
    document.validate_now()
    document.playhead.seek(0.5)
    _wait_index(qtbot, panel, 5)
    assert not player.problems or all(p.path for p in player.problems)


def test_a_hidden_preview_keeps_time_but_renders_nothing(qtbot, make_panel):
    clock = ManualClock()
    panel, _document = make_panel(clock=clock)
    _wait_index(qtbot, panel, 0)
    panel.hide()
    serial = panel.player.shown_serial
    panel.player.play()
    clock.now += 1.2
    qtbot.waitUntil(lambda: panel.player.current_index == 12)
    qtbot.wait(50)
    assert panel.player.shown_serial == serial  # no frame rendered for a closed dock
    panel.player.pause()
    panel.show()
    _wait_index(qtbot, panel, 12)


def test_opening_a_broken_script_never_shows_the_previous_movie(qtbot, make_panel, media):
    panel, document = make_panel()
    _wait_index(qtbot, panel, 0)
    panel.player.play()
    broken = _script()
    broken["scenes"][0]["duration"] = "long"
    document.load(dumps(broken), media / "broken.json")
    assert panel.player.movie is None and not panel.player.playing
    qtbot.waitUntil(lambda: document.validation.revision == document.revision)
    assert panel.player.movie is None
    shot = panel.canvas.grab().toImage()
    center = shot.pixelColor(shot.width() // 2, shot.height() // 3)
    assert center.red() < 10 and center.green() < 10 and center.blue() < 10  # the black card
    document.load(dumps(_script()), media / "movie.json")
    qtbot.waitUntil(lambda: panel.player.movie is not None, timeout=5000)
