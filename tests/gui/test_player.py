"""Player: the clock, the frame worker and the sound follow the document and the shared playhead."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QIODevice, QSize
from PySide6.QtMultimedia import QAudioFormat

from app.media.audio import Mixer
from app.media.proxy import ProxyStore
from app.studio.audio_output import (
    AudioFeed,
    AudioOutput,
    default_output_available,
    preview_tracks,
    probe_cached,
)
from app.studio.document import ScriptDocument, dumps
from app.studio.player import (
    FpsMeter,
    MediaProblem,
    Player,
    auto_scale,
    parse_timecode,
    timecode,
)
from tests.bench.media import moving_clip

FPS = 10


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("player-media")
    moving_clip(folder / "clip.mp4", 2.0, width=320, height=180, fps=FPS, gop=5, audio=True)
    (folder / "broken.mp4").write_bytes(b"\x00garbage, not a video\xff" * 200)
    return folder


def _script(scenes: list[dict]) -> dict:
    return {"width": 320, "height": 180, "fps": FPS, "scenes": scenes}


def _video_script() -> dict:
    return _script(
        [
            {
                "duration": 1,
                "background": "#203040",
                "elements": [{"type": "text", "text": "one", "font_size": 30}],
            },
            {
                "duration": 2,
                "elements": [
                    {"type": "video", "src": "clip.mp4"},
                    {"type": "text", "text": "two", "position": "bottom-center"},
                ],
            },
        ]
    )


@pytest.fixture
def make_player(qtbot, media, tmp_path):
    made: list[tuple[Player, ScriptDocument]] = []

    def make(script: dict | None = None, clock=None, audio=None) -> tuple[Player, ScriptDocument]:
        document = ScriptDocument(dumps(script or _video_script()), file_path=media / "movie.json")
        document.validate_now()
        assert document.movie is not None, document.validation.problems
        player = Player(
            document, clock=clock, audio=audio, proxies=ProxyStore(tmp_path / "proxies")
        )
        player.set_target(QSize(320, 180), 1.0)
        made.append((player, document))
        return player, document

    yield make
    for player, document in made:
        player.close()
        document.close()


def _wait_frame(qtbot, player: Player, index: int) -> None:
    qtbot.waitUntil(lambda: player.shown_index == index, timeout=5000)


def test_timecode_shows_hours_minutes_seconds_and_frame_within_the_second():
    assert timecode(0, 30) == "00:00:00:00"
    assert timecode(1.5, 30) == "00:00:01:15"
    assert timecode(3723 + 29 / 30, 30) == "01:02:03:29"
    assert timecode(2.0, 25) == "00:00:02:00"


def test_auto_scale_is_the_smallest_ladder_step_that_covers_the_canvas():
    assert auto_scale((1920, 1080), QSize(960, 540)) == 0.5
    assert auto_scale((1920, 1080), QSize(961, 541)) == 0.625
    assert auto_scale((1920, 1080), QSize(4000, 3000)) == 1.0
    assert auto_scale((1920, 1080), QSize(100, 900)) == 0.125  # letterboxed by the width


def test_the_first_frame_is_shown_without_playing(qtbot, make_player):
    player, _ = make_player()
    _wait_frame(qtbot, player, 0)
    assert player.image is not None and not player.image.isNull()
    assert not player.playing


def test_playback_follows_the_clock_and_stops_at_the_end(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    _wait_frame(qtbot, player, 0)
    with qtbot.waitSignal(document.playhead.playing_changed):
        player.play()
    assert document.playhead.playing
    clock.now += 1.25
    qtbot.waitUntil(lambda: player.shown_index == 12, timeout=3000)
    assert document.playhead.time == pytest.approx(1.2)
    clock.now += 10
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    assert not document.playhead.playing
    last = player.frame_count - 1
    assert last == 29
    assert document.playhead.time == pytest.approx(last / FPS)
    _wait_frame(qtbot, player, last)


def test_playback_advances_in_real_time(qtbot, make_player):
    player, document = make_player()
    player.play()
    qtbot.wait(500)
    assert player.playing
    assert 0.3 <= document.playhead.time <= 0.8
    assert player.frames_shown >= 3
    player.pause()
    assert not document.playhead.playing


def test_play_at_the_end_starts_again_from_the_beginning(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    player.go_to_end()
    player.play()
    assert document.playhead.time == 0.0
    assert player.playing


def test_frame_step_moves_exactly_one_frame(qtbot, make_player):
    player, document = make_player()
    document.playhead.seek(1.0)
    player.step(1)
    assert player.current_index == 11
    assert document.playhead.time == pytest.approx(1.1)
    _wait_frame(qtbot, player, 11)
    player.step(-1)
    player.step(-1)
    assert player.current_index == 9
    player.go_to_start()
    player.step(-1)
    assert player.current_index == 0


def test_the_playhead_moved_elsewhere_shows_that_frame(qtbot, make_player):
    player, document = make_player()
    document.playhead.seek(2.55)  # the timeline seeks
    _wait_frame(qtbot, player, 25)


def test_playback_wraps_within_the_loop_range(qtbot, make_player):
    clock = ManualClock()
    player, _document = make_player(clock=clock)
    player.seek_index(5)
    player.set_loop_in()
    player.seek_index(9)
    player.set_loop_out()
    player.set_loop_enabled(True)
    assert player.loop_range == (5, 9)
    player.play()  # the playhead sits at the out point: playback starts at the in point
    assert player.current_index == 5
    seen = set()
    for _ in range(12):
        clock.now += 0.1
        qtbot.wait(15)
        seen.add(player.current_index)
    assert player.playing
    assert seen <= set(range(5, 10))
    assert {5, 9} <= seen


def test_shuttle_goes_backwards_and_faster(qtbot, make_player):
    clock = ManualClock()
    player, _document = make_player(clock=clock)
    player.seek_index(20)
    player.shuttle_reverse()
    assert player.rate == -1
    clock.now += 0.5
    qtbot.waitUntil(lambda: player.current_index == 15, timeout=3000)
    player.shuttle_reverse()
    assert player.rate == -2
    player.shuttle_forward()  # slower first…
    assert player.rate == -1
    player.shuttle_forward()  # …then forwards
    assert player.rate == 1
    player.shuttle_forward()
    player.shuttle_forward()
    assert player.rate == 4
    start = player.current_index
    clock.now += 0.2
    qtbot.waitUntil(lambda: player.current_index == start + 8, timeout=3000)
    player.pause()
    assert player.rate == 0


def test_reverse_shuttle_stops_at_the_start(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    player.seek_index(3)
    player.shuttle_reverse()
    clock.now += 5
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    assert document.playhead.time == 0.0


def test_an_edit_redraws_the_current_frame_and_playback_goes_on(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    document.playhead.seek(0.5)
    _wait_frame(qtbot, player, 5)
    before = player.image
    player.play()
    document.set_value(("scenes", 0, "background"), "#ff0000")
    document.validate_now()
    qtbot.waitUntil(
        lambda: player.image is not before and player.image.pixelColor(2, 2).red() > 200
    )
    assert player.playing
    clock.now += 0.3
    qtbot.waitUntil(lambda: player.current_index == 8, timeout=3000)


def test_broken_media_is_a_problem_of_its_element_and_playback_goes_on(qtbot, make_player):
    script = _video_script()
    script["scenes"][1]["elements"][0]["src"] = "broken.mp4"
    clock = ManualClock()
    player, document = make_player(script, clock=clock)
    document.playhead.seek(1.5)
    qtbot.waitUntil(lambda: any(p.path == "scenes.1.elements.0" for p in player.problems))
    problem = next(p for p in player.problems if p.path == "scenes.1.elements.0")
    assert problem.text().startswith("scene 2 › element 1: ")
    assert "broken.mp4" in problem.text()
    player.play()
    clock.now += 0.5
    qtbot.waitUntil(lambda: player.current_index == 20, timeout=3000)
    assert player.playing


def test_a_player_without_audio_output_plays_silently(qtbot, make_player):
    silent = AudioOutput(available=False)
    player, document = make_player(audio=silent)
    assert player.audio_state == "no-device"
    player.play()
    qtbot.wait(300)
    assert document.playhead.time > 0.1
    assert not silent.active


def test_the_default_audio_output_on_a_machine_without_a_device_never_crashes(qtbot, make_player):
    output = AudioOutput()
    assert output.start([], 1.0, 0.0) is False  # nothing to play
    player, _document = make_player(audio=output)
    qtbot.waitUntil(lambda: player._tracks is not None, timeout=5000)
    player.play()
    qtbot.wait(200)
    assert player.playing
    if not output.available:  # this machine: no sound card
        assert player.audio_state == "no-device"


def test_preview_tracks_are_the_renders_sounds_and_broken_ones_are_reported(make_player, media):
    script = _video_script()
    script["scenes"][0]["elements"].append({"type": "audio", "src": "broken.mp4", "volume": 0.5})
    script["scenes"][1]["elements"].append({"type": "video", "src": "clip.mp4", "muted": True})
    _player, document = make_player(script)
    tracks, problems = preview_tracks(document.movie, media)
    assert len(tracks) == 1  # the un-muted clip in scene 2
    assert tracks[0].start == pytest.approx(1.0)
    assert tracks[0].end == pytest.approx(3.0)
    assert [p.path for p in problems] == ["scenes.0.elements.1"]


@pytest.mark.parametrize(
    "sample_format", [QAudioFormat.SampleFormat.Float, QAudioFormat.SampleFormat.Int16]
)
def test_audio_feed_bytes_are_the_mixers_output_for_that_time(make_player, media, sample_format):
    script = _video_script()
    script["scenes"][0]["elements"].append({"type": "audio", "src": "clip.mp4", "fade_in": 0.3})
    _player, document = make_player(script)
    tracks, _ = preview_tracks(document.movie, media)
    assert len(tracks) == 2
    start, seconds = 0.7, 0.9
    total = document.movie.total_duration
    feed = AudioFeed(tracks, total, start, sample_format=sample_format, ahead_seconds=2.0)
    feed.open(QIODevice.OpenModeFlag.ReadOnly)
    try:
        n = round(seconds * 48000)
        assert feed.wait_buffered(seconds)
        data = bytes(feed.read(n * feed.frame_bytes))
    finally:
        feed.close()
    expected = np.concatenate(list(Mixer(tracks, document.movie.total_duration).blocks(start)))[:n]
    assert np.abs(expected).max() > 0.05  # there is sound in this range
    if sample_format == QAudioFormat.SampleFormat.Float:
        got = np.frombuffer(data, "<f4").reshape(-1, 2)
        assert np.array_equal(got, expected)
    else:
        got16 = np.frombuffer(data, "<i2").reshape(-1, 2)
        assert np.array_equal(got16, (np.clip(expected, -1, 1) * 32767).astype("<i2"))


def test_a_stopped_feed_is_deleted_only_after_its_producer_thread_ended(qtbot, make_player, media):
    # Deleting the feed while its producer thread still holds the feed's Python wrapper lets
    # that thread free the wrapper in the middle of Qt's destruction (a rare crash): the output
    # keeps a stopped feed until its producer has ended, then deletes it.
    script = _video_script()
    script["scenes"][0]["elements"].append({"type": "audio", "src": "clip.mp4"})
    _player, document = make_player(script)
    tracks, _ = preview_tracks(document.movie, media)
    output = AudioOutput(available=False)
    feed = AudioFeed(tracks, document.movie.total_duration, 0.0, ahead_seconds=0.1, parent=output)
    feed.open(QIODevice.OpenModeFlag.ReadOnly)
    assert feed.wait_buffered(0.1)  # the buffer is full: the producer waits for room
    with feed._cond:  # and cannot take its lock back: it stays alive while we hold it
        feed.close()
        output._retire(feed)
        qtbot.wait(200)
        assert feed.producing and shiboken6.isValid(feed)  # not deleted under its thread
    qtbot.waitUntil(lambda: not shiboken6.isValid(feed), timeout=5000)
    assert output._retired == [] and not output._reaper.isActive()


def test_audio_feed_plays_silence_after_the_end_and_keeps_its_byte_clock(make_player, media):
    _player, document = make_player()
    tracks, _ = preview_tracks(document.movie, media)
    total = document.movie.total_duration
    feed = AudioFeed(tracks, total, total - 0.1)
    feed.open(QIODevice.OpenModeFlag.ReadOnly)
    try:
        feed.wait_buffered(1.0)
        assert feed.finished
        data = bytes(feed.read(8 * 9600))  # 0.2 s: 0.1 s of mix, then silence
    finally:
        feed.close()
    assert len(data) == 8 * 9600
    tail = np.frombuffer(data, "<f4").reshape(-1, 2)[4800:]
    assert not tail.any()


def test_fps_meter_counts_frames_shown_in_the_last_second():
    clock = ManualClock()
    meter = FpsMeter(clock)
    for _ in range(31):
        meter.frame_shown()
        clock.now += 1 / 30
    clock.now -= 1 / 30
    assert meter.fps == pytest.approx(30, rel=0.05)
    clock.now += 5
    assert meter.fps == 0.0


def test_late_frames_are_dropped_rather_than_falling_behind(qtbot, make_player):
    clock = ManualClock()
    player, _document = make_player(clock=clock)
    _wait_frame(qtbot, player, 0)
    player.play()
    clock.now += 1.0  # the clock jumps 10 frames while no frame was asked for
    qtbot.waitUntil(lambda: player.shown_index == 10, timeout=3000)
    assert player.dropped == 9


def test_another_view_can_start_and_stop_playback_through_the_playhead(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    document.playhead.set_playing(True)
    assert player.playing
    clock.now += 0.5
    qtbot.waitUntil(lambda: player.current_index == 5, timeout=3000)
    document.playhead.set_playing(False)
    assert not player.playing


def test_changing_the_shuttle_speed_keeps_the_current_time(qtbot, make_player):
    clock = ManualClock()
    player, _document = make_player(clock=clock)
    player.play()
    clock.now += 0.5
    qtbot.waitUntil(lambda: player.current_index == 5, timeout=3000)
    player.shuttle_forward()  # ×2 from frame 5, not from a time recomputed at the new rate
    assert player.rate == 2
    qtbot.wait(20)
    assert player.current_index == 5
    clock.now += 0.5
    qtbot.waitUntil(lambda: player.current_index == 15, timeout=3000)


@pytest.mark.skipif(not default_output_available(), reason="this machine has no audio output")
def test_with_an_audio_device_the_sound_plays_and_the_picture_never_waits_for_it(
    qtbot, make_player
):
    script = _script(
        [{"duration": 12, "elements": [{"type": "audio", "src": "clip.mp4", "loop": True}]}]
    )
    output = AudioOutput()
    player, document = make_player(script, audio=output)
    qtbot.waitUntil(lambda: bool(player._tracks), timeout=5000)
    player.play()
    assert player.audio_state == "playing"
    assert output.active
    qtbot.wait(400)  # devices take a while to start sounding: the picture goes on meanwhile
    assert document.playhead.time >= 0.25
    qtbot.waitUntil(lambda: output.running, timeout=8000)  # the device consumes the mix
    player.pause()
    assert not output.active


def test_a_media_problem_reads_as_element_file_and_reason():
    problem = MediaProblem(
        "scenes.1.elements.0",
        "clips/clip.mp4",
        "This is not a video, audio or image file FFmpeg can read: [Errno 1094995529] Invalid "
        "data found when processing input: '/work/clips/clip.mp4' (/work/clips/clip.mp4)",
    )
    assert problem.text() == (
        "scene 2 › element 1: clip.mp4: This is not a video, audio or image file FFmpeg can read"
    )
    assert "Invalid data found" in problem.detail()
    assert problem.element_path == ("scenes", 1, "elements", 0)
    assert MediaProblem("", "", "Preview failed: boom").text() == "Preview failed: boom"


def test_restarting_the_sound_never_forces_a_garbage_collection(make_player, media):
    """A full collection holds the GIL for tens of ms in a big process: the GUI would stall."""
    _player, document = make_player()
    tracks, _ = preview_tracks(document.movie, media)
    collections: list[str] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(phase)

    was_enabled = gc.isenabled()  # (off in GUI tests: tests/gui/conftest.py)
    gc.disable()  # only an explicit gc.collect() can run now
    gc.callbacks.append(seen)
    try:
        for k in range(10):  # ten restarts close ten decoders
            feed = AudioFeed(tracks, document.movie.total_duration, 1.0 + k / 10)
            feed.open(QIODevice.OpenModeFlag.ReadOnly)
            assert feed.wait_buffered(0.1)
            feed.close()
            feed.stop(wait=True)
    finally:
        gc.callbacks.remove(seen)
        if was_enabled:
            gc.enable()
    assert collections == []


def test_a_seek_while_playing_goes_on_playing_from_there(qtbot, make_player):
    clock = ManualClock()
    player, document = make_player(clock=clock)
    player.play()
    clock.now += 0.3
    qtbot.waitUntil(lambda: player.current_index == 3, timeout=3000)
    document.playhead.seek(2.0)  # the timeline is clicked
    assert player.playing
    clock.now += 0.3
    qtbot.waitUntil(lambda: player.current_index == 23, timeout=3000)
    _wait_frame(qtbot, player, 23)


def test_a_typed_timecode_names_a_frame():
    assert parse_timecode("00:00:01:15", 30) == 45
    assert parse_timecode("1:15", 30) == 45
    assert parse_timecode("115", 30) == 45
    assert parse_timecode("2:00:00", 25) == 3000
    assert parse_timecode("1;02:03:04", 30) == (3600 + 2 * 60 + 3) * 30 + 4
    assert parse_timecode("+10", 30, current=5) == 15
    assert parse_timecode("-10", 30, current=5) == -5  # the player clamps
    assert parse_timecode("abc", 30) is None
    assert parse_timecode("1:2:3:4:5", 30) is None
    assert parse_timecode("", 30) is None


def test_probes_are_remembered_until_the_file_changes(tmp_path):
    clip = tmp_path / "c.mp4"
    moving_clip(clip, 1.0, width=64, height=36, fps=FPS, gop=5, audio=True)
    first = probe_cached(clip)
    assert probe_cached(clip) is first
    clip.unlink()
    moving_clip(clip, 2.0, width=64, height=36, fps=FPS, gop=5, audio=True)
    second = probe_cached(clip)
    assert second is not first
    assert second.duration == pytest.approx(2.0, abs=0.1)


def test_closing_twice_and_after_the_document_is_gone_is_harmless(qtbot, media, tmp_path):
    document = ScriptDocument(dumps(_video_script()), file_path=media / "movie.json")
    document.validate_now()
    player = Player(document, audio=None, proxies=ProxyStore(tmp_path / "proxies"))
    player.play()
    player.close()
    player.close()
    assert not player.playing
    other = ScriptDocument(dumps(_video_script()), file_path=media / "movie.json")
    other.validate_now()
    late = Player(other, audio=None, proxies=ProxyStore(tmp_path / "proxies"))
    late.play()
    other.close()
    shiboken6.delete(other)  # the window deleted the document first
    late.close()
    assert not late.worker._thread.is_alive()
