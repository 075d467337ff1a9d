"""The preview's playback engine: a clock, a frame worker and the sound, following the document.

- `FrameWorker` owns the `PreviewSource` on its own thread: every call into the source
  (`set_movie`, frames, prefetch) happens there, so the GUI thread never waits for a frame being
  composited. Requests are "latest wins": while one frame renders, newer requests replace the
  pending one; nothing queues up behind the clock. A finished frame is also scaled to the
  canvas's device pixels there, so the GUI thread only blits it.
- `Player` keeps time. While playing, the media time is `anchor + (clock() - clock_anchor) ×
  rate` on a monotonic clock (injectable: tests pass a clock they move by hand); once the audio
  device is heard, the media time is the device's (the movie time of the sound being played:
  A/V sync), never stepping back. The sound is started where the picture will be when the
  device starts sounding (its start latency is measured), so the picture never waits for the
  device; a seek while playing restarts the sound once seeking pauses. A tick (every few ms)
  asks for the frame of the current time; frames that are late are never shown (the next tick
  asks for a newer one) and count as dropped. The player drives `document.playhead` while
  playing and follows it (timeline, scrubber) otherwise.
- Shuttle (J/K/L): L plays forward, and faster (×2, ×4, ×8) when pressed again; J the same in
  reverse; pressing the opposite key while shuttling fast first slows down (×8 → ×4 … → ×1)
  before turning round; K pauses. Reverse and fast shuttle are silent and step frames at the
  shuttle rate.
- Loop range: in/out points (frames, out inclusive); with loop on, playback wraps from out to in;
  with loop on and no points set, the whole movie loops.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from app.media.cache import MediaCache
from app.media.proxy import ProxyStore
from app.paths import cache_dir
from app.render.compositor import ElementError
from app.render.preview import PreviewSource
from app.script.model import Movie
from app.studio.audio_output import AudioOutput, Halt, SoundProblem, preview_tracks
from app.studio.document import ScriptDocument, describe
from app.studio.tasks import TaskRunner

log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: Preview scales the user can pick; "auto" fits the canvas's device pixels.
SCALES: dict[str, float | None] = {"auto": None, "full": 1.0, "1/2": 0.5, "1/4": 0.25}
#: Scales "auto" renders at (the smallest one at least as large as the canvas needs): a few
#: fixed scales keep the frame cache and the open decoders useful while the dock is resized.
AUTO_LADDER = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
#: Shuttle speeds for J/L.
SHUTTLE_RATES = (1, 2, 4, 8)
TICK_MS = 4
#: After a seek while playing, the sound restarts once no other seek came for this long.
SOUND_AFTER_SEEK_MS = 150
#: A sound that starts this far from the picture's clock is restarted in step (once).
RESTART_OFF = 0.3


def timecode(seconds: float, fps: float) -> str:
    """HH:MM:SS:FF — whole seconds, then the frame within that second."""
    seconds = max(0.0, seconds)
    whole = math.floor(seconds + 1e-9)
    frames = math.floor((seconds - whole) * fps + 1e-6)
    frames = min(frames, max(0, math.ceil(fps) - 1))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{frames:02d}"


def parse_timecode(text: str, fps: float, current: int = 0) -> int | None:
    """The frame a typed time names, or None: `HH:MM:SS:FF` with fields right-aligned, so
    `1:15` is 1 s 15 frames and `2:00:00` two minutes; bare digits fill the fields from the
    right (`115` = 00:00:01:15); `+N` / `-N` move N frames from `current`."""
    text = text.strip().replace(";", ":").replace(".", ":")
    if not text:
        return None
    if text[0] in "+-":
        digits = text[1:].strip()
        if not digits.isdigit():
            return None
        step = int(digits)
        return current + step if text[0] == "+" else current - step
    if ":" in text:
        fields = text.split(":")
    elif text.isdigit():
        padded = text.zfill(8)[-8:] if len(text) <= 8 else None
        if padded is None:
            return None
        fields = [padded[i : i + 2] for i in range(0, 8, 2)]
    else:
        return None
    if len(fields) > 4 or not all(f.isdigit() for f in fields):
        return None
    hours, minutes, seconds, frames = [0] * (4 - len(fields)) + [int(f) for f in fields]
    whole = hours * 3600 + minutes * 60 + seconds
    return math.floor(whole * fps + 1e-6) + frames


def auto_scale(movie_size: tuple[int, int], device_size: QSize) -> float:
    """The smallest ladder scale whose frame covers `device_size` (letterboxed), at most 1."""
    width, height = movie_size
    if width <= 0 or height <= 0 or device_size.isEmpty():
        return 0.25
    need = min(device_size.width() / width, device_size.height() / height)
    for scale in AUTO_LADDER:
        if scale >= need - 1e-6:
            return scale
    return 1.0


def fit_size(image_size: QSize, box: QSize) -> QSize:
    """`image_size` scaled to fit inside `box`, keeping its aspect ratio."""
    if image_size.isEmpty() or box.isEmpty():
        return QSize(0, 0)
    return image_size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio)


@dataclass(frozen=True)
class MediaProblem:
    """A media source the preview could not use, for the list under the canvas."""

    path: str  # "scenes.1.elements.0"
    src: str
    message: str

    @property
    def element_path(self) -> tuple[str | int, ...]:
        if not self.path:
            return ()
        return tuple(int(p) if p.isdigit() else p for p in self.path.split("."))

    def text(self) -> str:
        """One line: `scene 2 › element 1: clip.mp4: This is not a video … FFmpeg can read`."""
        message = self.message
        # The media layer's sentence ends with "(<path>)" and may quote FFmpeg's own error
        # ("…: [Errno 1094995529] Invalid data…"): the file name goes first, the rest in detail().
        tail = message.rfind(" (")
        if tail > 0 and message.endswith(")"):
            message = message[:tail]
        cut = message.find(": [Errno")
        if cut > 0:
            message = message[:cut]
        name = Path(self.src).name if self.src else ""
        if name and name not in message:
            message = f"{name}: {message}"
        return f"{describe(self.element_path)}: {message}" if self.path else message

    def detail(self) -> str:
        """Everything the media layer said (for the tooltip and "copy details")."""
        return f"{describe(self.element_path)}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class FrameResult:
    serial: int
    movie_serial: int
    index: int
    scale: float
    image: QImage  # as the preview source made it
    display: QImage  # scaled to the canvas's device pixels
    problems: tuple[MediaProblem, ...]


class FrameWorker(QObject):
    """The thread that owns the `PreviewSource` (see the module docstring)."""

    frame_ready = Signal(object)  # FrameResult, delivered on the GUI thread
    failed = Signal(str)

    def __init__(
        self,
        *,
        proxies: ProxyStore | None = None,
        media_cache: MediaCache | None = None,
        cache_mb: float = 256,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._proxies = proxies
        self._media_cache = media_cache
        self._cache_mb = cache_mb
        self._source: PreviewSource | None = None
        self._cond = threading.Condition()
        self._movie: tuple[int, Movie, Path | None] | None = None  # pending set_movie
        self._movie_serial = 0
        self._request: tuple[int, int, float, QSize, float] | None = None
        self._prefetch: tuple[str, int, float] | None = None  # ("start", index, scale)/"stop"
        self._halt = Halt(self._cond)
        self.destroyed.connect(self._halt.stop)  # deleted with its panel: the thread ends too
        self._thread = threading.Thread(target=self._run, name="preview-frames", daemon=True)
        self._thread.start()

    @property
    def source(self) -> PreviewSource | None:
        """The preview source (for tests and benchmarks; only the worker calls into it)."""
        return self._source

    def set_movie(self, movie: Movie, base_dir: Path | None) -> int:
        with self._cond:
            self._movie_serial += 1
            self._movie = (self._movie_serial, movie, base_dir)
            self._cond.notify()
            return self._movie_serial

    def request(self, serial: int, index: int, scale: float, size: QSize, dpr: float) -> None:
        """Render frame `index` at `scale` and fit it into `size` device pixels (latest wins)."""
        with self._cond:
            self._request = (serial, index, scale, QSize(size), dpr)
            self._cond.notify()

    def start_prefetch(self, index: int, scale: float) -> None:
        with self._cond:
            self._prefetch = ("start", index, scale)
            self._cond.notify()

    def stop_prefetch(self) -> None:
        with self._cond:
            self._prefetch = ("stop", 0, 0.0)
            self._cond.notify()

    def stop(self) -> None:
        self._halt.stop()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        movie_serial = 0
        prefetching = False
        while True:
            with self._cond:
                while (
                    not self._halt.stopped
                    and self._movie is None
                    and self._request is None
                    and self._prefetch is None
                ):
                    self._cond.wait()
                if self._halt.stopped:
                    break
                movie, self._movie = self._movie, None
                prefetch, self._prefetch = self._prefetch, None
                request = None
                if movie is None and (prefetch is None or self._source is not None):
                    request, self._request = self._request, None
            try:
                if movie is not None:
                    movie_serial, new_movie, base_dir = movie
                    if self._source is None:
                        self._source = PreviewSource(
                            new_movie,
                            base_dir,
                            cache_mb=self._cache_mb,
                            media_cache=self._media_cache,
                            proxies=self._proxies,
                        )
                    else:
                        self._source.set_movie(new_movie, base_dir)
                        if base_dir is None:
                            self._source.base_dir = None
                source = self._source
                if source is None:
                    continue
                if prefetch is not None:
                    if prefetch[0] == "start":
                        source.start_prefetch(prefetch[1] / source.fps, prefetch[2])
                        prefetching = True
                    else:
                        source.stop_prefetch()
                        prefetching = False
                if request is not None:
                    serial, index, scale, size, dpr = request
                    index = min(max(index, 0), source.frame_count - 1)
                    if prefetching:
                        source.advance(index / source.fps)
                    image = source.frame_at_index(index, scale)
                    display = image
                    target = size  # the letterboxed frame area: already the movie's aspect
                    if not target.isEmpty() and target != image.size():
                        display = image.scaled(
                            target,
                            Qt.AspectRatioMode.IgnoreAspectRatio,
                            Qt.TransformationMode.SmoothTransformation,
                        )
                    if display is image:
                        display = QImage(image)  # a shallow copy we may tag with a DPR
                    display.setDevicePixelRatio(dpr)
                    problems = tuple(
                        MediaProblem(e.path, e.src, e.message) for e in _errors(source)
                    )
                    result = FrameResult(
                        serial, movie_serial, index, scale, image, display, problems
                    )
                    try:
                        self.frame_ready.emit(result)
                    except RuntimeError:  # Qt deleted this object (its panel went away)
                        break
            except Exception as exc:  # a bug must not kill the worker: report, go on
                log.exception("preview frame failed")
                with contextlib.suppress(RuntimeError):
                    self.failed.emit(f"Preview failed: {exc}")
        if self._source is not None:
            self._source.close()
            self._source = None


def _errors(source: PreviewSource) -> list[ElementError]:
    return sorted(
        source.errors, key=lambda e: [int(p) if p.isdigit() else 0 for p in e.path.split(".")]
    )


class FpsMeter:
    """Frames shown per second over the last second."""

    def __init__(self, clock: Clock = time.monotonic, window: float = 1.0) -> None:
        self._clock = clock
        self._window = window
        self._times: collections.deque[float] = collections.deque()

    def frame_shown(self) -> None:
        self._times.append(self._clock())
        self._trim()

    def reset(self) -> None:
        self._times.clear()

    @property
    def fps(self) -> float:
        self._trim()
        if len(self._times) < 2:
            return 0.0
        span = self._clock() - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self) -> None:
        cutoff = self._clock() - self._window
        while self._times and self._times[0] < cutoff:
            self._times.popleft()


class Player(QObject):
    """Playback of the document's movie (see the module docstring).

    `clock`: seconds from a monotonic source (default `time.monotonic`); `audio`: the sound
    output, or None to play silently (default: the system's output, when there is one).
    Signals: `frame_changed()` — a new `image`/`display_image`; `state_changed()` — playing,
    rate, loop, scale or movie changed; `problems_changed(list[MediaProblem])`;
    `audio_changed(str)` — "playing", "silent" (nothing to hear), "no-device" or "failed".
    """

    frame_changed = Signal()
    state_changed = Signal()
    problems_changed = Signal(object)
    audio_changed = Signal(str)

    def __init__(
        self,
        document: ScriptDocument,
        *,
        clock: Clock | None = None,
        audio: AudioOutput | bool | None = True,
        proxies: ProxyStore | None = None,
        media_cache: MediaCache | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._clock: Clock = clock or time.monotonic
        if audio is True:
            audio = AudioOutput(self)
        self.audio: AudioOutput | None = audio or None
        if self.audio is not None:
            self.audio.failed.connect(self._audio_failed)
            self.audio.problem.connect(self._sound_problem)
        if proxies is None:
            proxies = ProxyStore(cache_dir() / "proxies")
        if media_cache is None:
            from app.render.engine import default_media_cache

            media_cache = default_media_cache()
        self._media_cache = media_cache
        self.worker = FrameWorker(proxies=proxies, media_cache=media_cache, parent=self)
        self.worker.frame_ready.connect(self._frame_ready)
        self.worker.failed.connect(self._worker_failed)
        self._tasks = TaskRunner(max_workers=1, name="preview-sound", parent=self)

        self.movie: Movie | None = None
        self._duration = 0.0
        self._frame_count = 1
        self.image: QImage | None = None  # the last frame shown, as the source made it
        self.display_image: QImage | None = None  # the same, fitted to the canvas
        self.visible = True
        self.shown_index = -1
        self.shown_serial = 0  # increases with every frame delivered for painting
        self.scale_mode = "auto"
        self.rate = 0  # 0 paused; ±1, ±2 … while playing
        self.loop_enabled = False
        self.loop_in: int | None = None
        self.loop_out: int | None = None
        self.dropped = 0
        self.frames_shown = 0
        self._target = QSize(640, 360)
        self._dpr = 1.0
        self._serial = 0
        self._movie_serial = 0
        self._shown_movie_serial = -1
        self._requested: tuple[int, float, QSize] | None = None
        self._anchor_time = 0.0
        self._anchor_clock = 0.0
        self._audio_clock = False
        self._audio_on = False
        self._floor = 0.0
        self._restarted = False
        self._own_seek = False
        self._tracks: list[Any] | None = None
        self._tracks_serial = 0
        self._tracks_latest = [0]  # read by the listing task on its worker
        self._video_problems: tuple[MediaProblem, ...] = ()
        self._sound_problems: tuple[MediaProblem, ...] = ()
        self._runtime_problems: tuple[MediaProblem, ...] = ()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._sound_timer = QTimer(self)
        self._sound_timer.setSingleShot(True)
        self._sound_timer.setInterval(SOUND_AFTER_SEEK_MS)
        self._sound_timer.timeout.connect(self._resume_sound)

        document.movie_changed.connect(self._movie_changed)
        document.file_changed.connect(self._file_changed)
        document.playhead.time_changed.connect(self._playhead_moved)
        document.playhead.playing_changed.connect(self._playing_requested)
        self._base_dir = document.base_dir
        if document.movie is not None:
            self._movie_changed(document.movie)

    # ---- facts -----------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self.rate != 0

    @property
    def fps(self) -> float:
        return self.movie.fps if self.movie is not None else 30.0

    @property
    def frame_count(self) -> int:
        return self._frame_count

    @property
    def duration(self) -> float:
        """Seconds (kept per movie: the movie sums its scenes on every call)."""
        return self._duration

    @property
    def current_index(self) -> int:
        return self.index_at(self.document.playhead.time)

    def index_at(self, t: float) -> int:
        return min(max(math.floor(t * self.fps + 1e-6), 0), self.frame_count - 1)

    def time_of(self, index: int) -> float:
        return index / self.fps

    @property
    def scale(self) -> float:
        """The scale frames are rendered at now."""
        fixed = SCALES.get(self.scale_mode)
        if fixed is not None:
            return fixed
        if self.movie is None:
            return 0.5
        return auto_scale((self.movie.width, self.movie.height), self._target)

    @property
    def problems(self) -> list[MediaProblem]:
        seen: dict[str, MediaProblem] = {}
        for problem in (*self._video_problems, *self._sound_problems, *self._runtime_problems):
            seen.setdefault(problem.path, problem)
        return list(seen.values())

    @property
    def loop_range(self) -> tuple[int, int]:
        """First and last frame playback loops over (the whole movie without points)."""
        last = self.frame_count - 1
        lo = min(max(self.loop_in or 0, 0), last)
        hi = last if self.loop_out is None else min(max(self.loop_out, 0), last)
        return (lo, hi) if lo <= hi else (hi, lo)

    # ---- commands --------------------------------------------------------------------------

    def set_target(self, size: QSize, dpr: float) -> None:
        """The canvas's frame area in device pixels (auto scale and display fitting)."""
        size = QSize(max(1, size.width()), max(1, size.height()))
        if size == self._target and dpr == self._dpr:
            return
        old_scale = self.scale
        self._target, self._dpr = size, dpr
        if self.scale != old_scale:
            self.state_changed.emit()
            if self.playing:
                self.worker.start_prefetch(self.current_index, self.scale)
        self._show(self.current_index, force=True)

    def set_scale_mode(self, mode: str) -> None:
        if mode not in SCALES or mode == self.scale_mode:
            return
        self.scale_mode = mode
        if self.playing and self.rate > 0:
            self.worker.start_prefetch(self.current_index, self.scale)
        self.state_changed.emit()
        self._show(self.current_index, force=True)

    def play(self) -> None:
        self._start(1)

    def pause(self) -> None:
        if not self.playing:
            return
        self.rate = 0
        self._timer.stop()
        self._sound_timer.stop()
        self.worker.stop_prefetch()
        if self.audio is not None:
            self.audio.stop()
        self._audio_clock = False
        self.document.playhead.set_playing(False)
        self.state_changed.emit()

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def shuttle_forward(self) -> None:
        """L: play forward; faster when already playing forward; slower when shuttling back."""
        if self.rate < -1:
            self._start(self.rate // 2)
        elif self.rate <= 0:
            self._start(1)
        else:
            self._start(min(self.rate * 2, SHUTTLE_RATES[-1]))

    def shuttle_reverse(self) -> None:
        """J: play backwards; faster when already going back; slower when shuttling forward."""
        if self.rate > 1:
            self._start(self.rate // 2)
        elif self.rate >= 0:
            self._start(-1)
        else:
            self._start(max(self.rate * 2, -SHUTTLE_RATES[-1]))

    def step(self, frames: int) -> None:
        """Pause and move by `frames` frames."""
        self.pause()
        self.seek_index(self.current_index + frames)

    def go_to_start(self) -> None:
        self.pause()
        self.seek_index(0)

    def go_to_end(self) -> None:
        self.pause()
        self.seek_index(self.frame_count - 1)

    def seek_index(self, index: int) -> None:
        index = min(max(index, 0), self.frame_count - 1)
        self.document.playhead.seek(self.time_of(index))
        self._show(index)

    def set_loop_in(self, index: int | None = None) -> None:
        self.loop_in = self.current_index if index is None else index
        if self.loop_out is not None and self.loop_out < self.loop_in:
            self.loop_out = None
        self.state_changed.emit()

    def set_loop_out(self, index: int | None = None) -> None:
        self.loop_out = self.current_index if index is None else index
        if self.loop_in is not None and self.loop_in > self.loop_out:
            self.loop_in = None
        self.state_changed.emit()

    def clear_loop(self) -> None:
        self.loop_in = self.loop_out = None
        self.state_changed.emit()

    def set_loop_enabled(self, enabled: bool) -> None:
        if enabled != self.loop_enabled:
            self.loop_enabled = enabled
            self.state_changed.emit()

    def refresh(self) -> None:
        """Show the current frame again (after a resize or a scale change)."""
        self._show(self.current_index, force=True)

    def close(self) -> None:
        """Stop playback, the sound and the frame worker (safe to call twice, and at exit when
        the document may already be gone)."""
        with contextlib.suppress(RuntimeError):
            self._timer.stop()
            self._sound_timer.stop()
        with contextlib.suppress(RuntimeError):  # the document was deleted before us
            self.pause()
        self.rate = 0
        self._tasks.shutdown()
        self.worker.stop()
        if self.audio is not None:
            with contextlib.suppress(RuntimeError):
                self.audio.stop()

    # ---- playback --------------------------------------------------------------------------

    def _start(self, rate: int) -> None:
        if self.movie is None or rate == 0:
            return
        index = self.current_index
        lo, hi = self.loop_range if self.loop_enabled else (0, self.frame_count - 1)
        if rate > 0 and not self.playing:
            if index >= hi or (self.loop_enabled and not lo <= index <= hi):
                index = lo  # play from the start (of the loop) when parked at its end
        elif rate < 0 and not self.playing and index <= lo:
            index = hi
        was = self.rate
        now = self.time_of(index) if was == 0 else self._media_time()  # at the old rate
        self.rate = rate
        self._anchor(now)
        if was == 0:
            self.frames_shown = 0
            self.dropped = 0
            self._seek_own(self.time_of(index))
        if rate > 0:
            self.worker.start_prefetch(index, self.scale)
        else:
            self.worker.stop_prefetch()
        self.document.playhead.set_playing(True)
        if not self._timer.isActive():
            self._timer.start()
        self.state_changed.emit()
        self._tick()

    def _anchor(self, media_time: float, sound: bool = True) -> None:
        """Count from `media_time` now, and start the sound there (see `AudioOutput`);
        `sound=False` leaves it off until `_sound_timer` restarts it (a scrub in progress)."""
        self._sound_timer.stop()
        self._anchor_time = media_time
        self._anchor_clock = self._clock()
        self._floor = media_time
        self._audio_clock = False  # the picture follows the sound once it is heard
        self._audio_on = False
        self._restarted = False
        if self.audio is not None:
            self.audio.stop()
            if sound and self.rate == 1 and self._tracks and self.movie is not None:
                self._audio_on = self.audio.start(self._tracks, self._duration, media_time)
        self._report_audio()

    def _resume_sound(self) -> None:
        if self.playing:
            self._anchor(self._media_time())

    def _media_time(self) -> float:
        """Where playback is now: the sound being heard when it plays, else the clock."""
        clocked = self._anchor_time + (self._clock() - self._anchor_clock) * self.rate
        if not self._audio_on or self.audio is None:
            return clocked
        heard = self.audio.media_time()
        if heard is None or not self._audio_on:
            return clocked  # the device has not started sounding yet
        if not self._audio_clock and abs(heard - clocked) > RESTART_OFF and not self._restarted:
            # The device took far longer (or shorter) to start than predicted, e.g. on the first
            # play: start the sound again, now that its start latency is measured, rather than
            # hold the picture until the sound catches up or make it jump ahead.
            self._restarted = True
            self._audio_on = self.audio.start(self._tracks or [], self._duration, clocked)
            return clocked
        # From now on the picture follows the sound. A device that started a little later than
        # predicted is behind the clock: the tick's floor holds the picture until the sound
        # catches up (never a jump back); one that started sooner makes the picture skip ahead.
        self._audio_clock = True
        return heard

    def _tick(self) -> None:
        if not self.playing or self.movie is None:
            return
        t = self._media_time()
        if self.rate > 0:  # the sound's clock may step back a little after an update
            t = self._floor = max(t, self._floor)
        index = self.index_at(t)
        lo, hi = self.loop_range if self.loop_enabled else (0, self.frame_count - 1)
        if self.rate > 0 and t >= self.time_of(hi + 1) - 1e-9:
            if self.loop_enabled:
                self._anchor(self.time_of(lo))
                index = lo
            else:
                self._finish(hi)
                return
        elif self.rate < 0 and t < self.time_of(lo):
            if self.loop_enabled:
                self._anchor(self.time_of(hi))
                index = hi
            else:
                self._finish(lo)
                return
        if index != self.index_at(self.document.playhead.time):
            self._seek_own(self.time_of(index))
        self._show(index)

    def _finish(self, index: int) -> None:
        self.pause()
        self._seek_own(self.time_of(index))
        self._show(index)

    def _seek_own(self, t: float) -> None:
        self._own_seek = True
        try:
            self.document.playhead.seek(t)
        finally:
            self._own_seek = False

    def _playing_requested(self, playing: bool) -> None:
        """Another view started or stopped playback through the shared playhead."""
        if playing and not self.playing:
            self.play()
            if not self.playing:  # nothing to play: say so
                self.document.playhead.set_playing(False)
        elif not playing and self.playing:
            self.pause()

    def _playhead_moved(self, t: float) -> None:
        if self._own_seek:
            return
        if self.playing:  # the timeline or the scrubber moved it: go on playing from there
            # The picture jumps now; the sound restarts once the dragging pauses (a drag
            # seeks many times a second, and each start opens decoders and a device stream).
            self._anchor(t, sound=False)
            self._sound_timer.start()
        self._show(self.index_at(t))

    # ---- frames ----------------------------------------------------------------------------

    def set_visible(self, visible: bool) -> None:
        """Whether any canvas shows the frames: a hidden preview keeps time (and sound) but
        renders nothing; shown again, it catches up with the current frame."""
        if visible != self.visible:
            self.visible = visible
            if visible:
                self._show(self.current_index, force=True)

    def _show(self, index: int, force: bool = False) -> None:
        if self.movie is None or not self.visible:
            return
        key = (index, self.scale, QSize(self._target))
        if not force and key == self._requested:
            return
        self._requested = key
        self._serial += 1
        self.worker.request(self._serial, index, self.scale, self._target * 1, self._dpr)

    def _frame_ready(self, result: FrameResult) -> None:
        if result.movie_serial != self._movie_serial:
            return  # a frame of an older version of the movie
        if (
            abs(self.rate) == 1
            and self.shown_index >= 0
            and result.movie_serial == self._shown_movie_serial
        ):
            step = (result.index - self.shown_index) * self.rate
            if step > 1:
                self.dropped += step - 1  # frames the clock passed while we were busy
        self.image = result.image
        self.display_image = result.display
        self.shown_index = result.index
        self.shown_serial += 1
        self._shown_movie_serial = result.movie_serial
        if self.playing:
            self.frames_shown += 1
        if result.problems != self._video_problems:
            self._video_problems = result.problems
            self.problems_changed.emit(self.problems)
        self.frame_changed.emit()

    def _worker_failed(self, message: str) -> None:
        problem = MediaProblem("", "", message)
        if problem not in self._runtime_problems:
            self._runtime_problems = (*self._runtime_problems, problem)
            self.problems_changed.emit(self.problems)

    # ---- the document ----------------------------------------------------------------------

    def _movie_changed(self, movie: Movie | None) -> None:
        if movie is None:
            # A newly opened script that is not renderable yet: never go on showing the
            # previous file's movie.
            if self.playing:
                self.pause()
            self.movie = None
            self._runtime_problems = ()
            self.state_changed.emit()
            self.frame_changed.emit()
            return
        first = self.movie is None
        self.movie = movie
        self._duration = movie.total_duration
        self._frame_count = max(1, round(self._duration * movie.fps))
        self._runtime_problems = ()
        self._movie_serial = self.worker.set_movie(movie, self.document.base_dir)
        self._requested = None
        # (the sounds listed for the previous version play on until the new list arrives)
        self._tracks_serial += 1
        serial = self._tracks_serial
        latest = self._tracks_latest
        latest[0] = serial

        def listing() -> Any:
            if latest[0] != serial:
                return None  # a newer edit came while this one waited: skip the work
            return preview_tracks(movie, base_dir, self._media_cache)

        base_dir = self.document.base_dir
        self._tasks.run(
            listing, done=lambda result, error: self._tracks_ready(serial, result, error)
        )
        if self.loop_in is not None and self.loop_in >= self.frame_count:
            self.loop_in = None
        if self.loop_out is not None and self.loop_out >= self.frame_count:
            self.loop_out = None
        if self.rate > 0:
            self.worker.start_prefetch(self.current_index, self.scale)
        if first and self.document.playhead.time > self.duration:
            self.document.playhead.seek(0.0)
        self.state_changed.emit()
        self._show(self.current_index, force=True)

    def _file_changed(self) -> None:
        base = self.document.base_dir
        if base != self._base_dir:
            self._base_dir = base
            if self.movie is not None:
                self._movie_changed(self.movie)

    def _tracks_ready(self, serial: int, result: Any, error: BaseException | None) -> None:
        if serial != self._tracks_serial or (result is None and error is None):
            return
        if error is not None:
            log.error("cannot list the movie's sounds", exc_info=error)
            result = ([], [])
        tracks, problems = result
        changed = tracks != self._tracks
        self._tracks = tracks
        self._sound_problems = tuple(
            MediaProblem(p.path, p.src, p.message) for p in problems if isinstance(p, SoundProblem)
        )
        self.problems_changed.emit(self.problems)
        if self.rate == 1 and self.audio is not None and (changed or not self._audio_on):
            # Sound for the movie being played now (an edit that leaves every sound where it
            # was, e.g. a caption's text, does not interrupt it).
            self._anchor(self._media_time())
        else:
            self._report_audio()

    def _audio_failed(self, message: str) -> None:
        log.warning("audio output failed: %s", message)
        if self.playing:
            t = self._floor if self.rate > 0 else self._media_time()
            self._audio_clock = self._audio_on = False
            self._anchor_time, self._anchor_clock = t, self._clock()
        self.audio_changed.emit("failed")

    def _sound_problem(self, message: str) -> None:
        problem = MediaProblem("", "", message)
        if problem not in self._runtime_problems:
            self._runtime_problems = (*self._runtime_problems, problem)
            self.problems_changed.emit(self.problems)

    @property
    def audio_state(self) -> str:
        if self.audio is None or not self.audio.available:
            return "no-device"
        if self.audio.last_error is not None:
            return "failed"
        if self._audio_on:
            return "playing"
        return "silent"

    def _report_audio(self) -> None:
        self.audio_changed.emit(self.audio_state)
