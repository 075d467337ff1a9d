"""The preview's sound: the render's own mix, streamed to the audio device.

- `preview_tracks(movie, base_dir, cache)` lists the movie's sounds the way the render does
  (`app.render.engine.audio_tracks`), but leniently: a source that cannot be opened is left out
  and reported, never raised — the preview goes on without it.
- `AudioFeed` is a pull-mode `QIODevice`: a producer thread runs `Mixer.blocks(start)` in short
  blocks and keeps about half a second of bytes ready; `readData` (called by `QAudioSink` on the
  GUI thread) only copies bytes and never waits. Byte k of the stream is always the mix at
  `start + k / bytes_per_second`: when the producer falls behind, the feed plays silence and the
  producer skips the same amount of the mix, so the audio clock never drifts from the picture.
- `AudioOutput` owns the `QAudioSink` and gives the player its clock (`media_time()`: the movie
  time being heard). With no audio device (`available` is False) nothing is played
  and the player keeps its monotonic clock.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QTimer, Signal
from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices, QtAudio

from app.media.audio import CHANNELS, SAMPLE_RATE, AnyTrack, AudioArray, AudioTrack, Mixer
from app.media.cache import MediaCache
from app.media.errors import MediaError
from app.media.probe import MediaInfo, probe
from app.render.engine import sound_of
from app.script.model import AudioElement, Movie, VideoElement
from app.script.sources import resolve_src
from app.script.timeline import Timeline

log = logging.getLogger(__name__)

#: Length of the mixer's blocks for the preview: short, so a seek starts sounding quickly.
BLOCK_SECONDS = 0.04
#: How much mixed sound the producer keeps ready ahead of the device.
AHEAD_SECONDS = 0.5
#: The sink starts once this much is ready (no stutter at the start of playback).
PRIME_SECONDS = 0.08


class Halt:
    """A stop flag for a worker thread, kept outside the QObject that owns the thread, so the
    thread still learns it must end when Qt deletes that object (connect `destroyed` to
    `stop`): a plain Python callable is safe to call while the object is being destroyed."""

    def __init__(self, cond: threading.Condition) -> None:
        self.cond = cond
        self.stopped = False

    def stop(self, *_: object) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


@dataclass(frozen=True)
class SoundProblem:
    """A sound the preview cannot play: `path` like `scenes.1.elements.0`."""

    path: str
    src: str
    message: str


_PROBES: collections.OrderedDict[tuple[str, int, int], MediaInfo] = collections.OrderedDict()
_PROBES_LOCK = threading.Lock()
_PROBES_MAX = 512


def probe_cached(path: Path) -> MediaInfo:
    """`probe(path)`, remembered while the file keeps its size and modification time: the
    preview lists the movie's sounds after every edit, and a long movie has many sources."""
    try:
        stat = path.stat()
    except OSError:
        return probe(path)  # raises the probe's own MediaError (not_found, …)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _PROBES_LOCK:
        info = _PROBES.get(key)
        if info is not None:
            _PROBES.move_to_end(key)
            return info
    info = probe(path)
    with _PROBES_LOCK:
        _PROBES[key] = info
        while len(_PROBES) > _PROBES_MAX:
            _PROBES.popitem(last=False)
    return info


def preview_tracks(
    movie: Movie, base_dir: Path | None, cache: MediaCache | None = None
) -> tuple[list[AudioTrack], list[SoundProblem]]:
    """Every sound of the movie on its timeline (audio elements and un-muted videos), as the
    render mixes them; sources that cannot be opened are left out and returned as problems.
    Probes files (and may download URLs into `cache`): call it off the GUI thread."""
    timeline = Timeline(movie)
    tracks: list[AudioTrack] = []
    problems: list[SoundProblem] = []
    infos: dict[Path, MediaInfo] = {}
    for i, scene in enumerate(movie.scenes):
        for j, element in enumerate(scene.elements):
            if not isinstance(element, AudioElement | VideoElement):
                continue
            if isinstance(element, VideoElement) and (element.muted or element.volume <= 0):
                continue
            path_text = f"scenes.{i}.elements.{j}"
            try:
                source = resolve_src(element.src, base_dir)
                if source.path is not None:
                    path = source.path
                elif cache is not None:
                    path = cache.fetch(source.url or "")
                else:
                    raise MediaError(element.src, "network", "Media from the web needs a cache")
                info = infos.get(path) or probe_cached(path)
                infos[path] = info
            except MediaError as exc:
                problems.append(SoundProblem(path_text, element.src, str(exc)))
                continue
            if not info.has_audio:
                if isinstance(element, AudioElement):
                    problems.append(SoundProblem(path_text, element.src, "This file has no sound"))
                continue
            tracks.append(sound_of(element, timeline.element_span(i, j), path, info))
    return tracks, problems


def audio_format(
    sample_format: QAudioFormat.SampleFormat = QAudioFormat.SampleFormat.Float,
) -> QAudioFormat:
    """48 kHz stereo in `sample_format` (Float, or Int16 for devices that refuse floats)."""
    fmt = QAudioFormat()
    fmt.setSampleRate(SAMPLE_RATE)
    fmt.setChannelCount(CHANNELS)
    fmt.setChannelConfig(QAudioFormat.ChannelConfig.ChannelConfigStereo)
    fmt.setSampleFormat(sample_format)
    return fmt


def to_bytes(block: AudioArray, sample_format: QAudioFormat.SampleFormat) -> bytes:
    """Interleaved samples in the device's format."""
    if sample_format == QAudioFormat.SampleFormat.Int16:
        return (np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    return np.ascontiguousarray(block, dtype="<f4").tobytes()


class AudioFeed(QIODevice):
    """The mix from `start` as a read-only byte stream (see the module docstring).

    `on_error(message)` is called (on the producer thread) when a source fails while mixing;
    that track is dropped and the mix goes on without it.
    """

    #: Emitted once (from the producer thread) when `PRIME_SECONDS` are ready or the mix ended.
    ready = Signal()

    def __init__(
        self,
        tracks: Sequence[AnyTrack],
        total_seconds: float,
        start: float = 0.0,
        *,
        sample_format: QAudioFormat.SampleFormat = QAudioFormat.SampleFormat.Float,
        ahead_seconds: float = AHEAD_SECONDS,
        on_error: Callable[[str], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        if parent is None:
            super().__init__()
        else:
            super().__init__(parent)
        self.start_time = max(0.0, start)
        self.sample_format = sample_format
        self.frame_bytes = CHANNELS * (2 if sample_format == QAudioFormat.SampleFormat.Int16 else 4)
        self.bytes_per_second = SAMPLE_RATE * self.frame_bytes
        self._tracks = list(tracks)
        self._total = total_seconds
        self._limit = max(self.frame_bytes, int(ahead_seconds * SAMPLE_RATE) * self.frame_bytes)
        self._on_error = on_error
        self._buffer = bytearray()
        self._skip = 0  # bytes of the mix to throw away (already played as silence)
        self._delivered = 0
        self._finished = False
        self._primed = False
        self._prime_bytes = int(PRIME_SECONDS * SAMPLE_RATE) * self.frame_bytes
        self._cond = threading.Condition()
        self._halt = Halt(self._cond)
        self.destroyed.connect(self._halt.stop)  # deleted unstopped: the producer ends too
        self._thread = threading.Thread(target=self._produce, name="preview-audio", daemon=True)
        self._thread.start()

    # ---- QIODevice -------------------------------------------------------------------------

    def isSequential(self) -> bool:
        return True

    def bytesAvailable(self) -> int:
        with self._cond:
            return len(self._buffer) + super().bytesAvailable()

    def readData(self, maxlen: int) -> bytes:
        want = (maxlen // self.frame_bytes) * self.frame_bytes
        if want <= 0:
            return b""
        with self._cond:
            take = min(want, len(self._buffer))
            data = bytes(self._buffer[:take])
            del self._buffer[:take]
            missing = want - take
            if missing:
                # Underrun (or the end of the movie): silence now, and the producer skips the
                # same stretch of the mix so byte k stays the mix at start + k / rate.
                if not self._finished:
                    self._skip += missing
                data += bytes(missing)
            self._delivered += want
            self._cond.notify_all()
        return data

    def writeData(self, data: bytes, length: int) -> int:  # type: ignore[override]
        return -1

    def close(self) -> None:
        self.stop()
        super().close()

    # ---- control ---------------------------------------------------------------------------

    @property
    def buffered_seconds(self) -> float:
        with self._cond:
            return len(self._buffer) / self.bytes_per_second

    @property
    def producing(self) -> bool:
        """The producer thread has not ended yet (it may still be finishing its last block)."""
        return self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The mix has been produced to the end of the movie."""
        with self._cond:
            return self._finished

    def wait_buffered(self, seconds: float, timeout: float = 5.0) -> bool:
        """Block until `seconds` of sound are ready or the mix ended (tests, priming)."""
        need = int(seconds * SAMPLE_RATE) * self.frame_bytes
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._buffer) < need and not self._finished and not self._halt.stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def stop(self, wait: bool = False) -> None:
        """Stop producing. The producer finishes its current block on its own (it may be
        opening or seeking a file): the GUI thread does not wait for it unless `wait`."""
        self._halt.stop()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # ---- producer --------------------------------------------------------------------------

    def _produce(self) -> None:
        position = self.start_time  # where the next mixed sample belongs on the timeline
        while True:
            mixer = Mixer(
                self._tracks, self._total, block_seconds=BLOCK_SECONDS, collect_garbage=False
            )
            blocks: Generator[AudioArray, None, None] = mixer.blocks(position)  # type: ignore[assignment]
            try:
                for block in blocks:
                    if self._halt.stopped:
                        return
                    position += len(block) / SAMPLE_RATE
                    if not self._put(to_bytes(block, self.sample_format)):
                        return
                break
            except MediaError as exc:  # a source broke mid-way: drop it, go on from here
                bad = exc.source
                self._tracks = [t for t in self._tracks if str(getattr(t, "path", "")) != bad]
                if self._on_error is not None:
                    self._on_error(str(exc))
                if not self._tracks:
                    break
            finally:
                blocks.close()
        with self._cond:
            self._finished = True
            self._cond.notify_all()
        self._announce()

    def _announce(self) -> None:
        if not self._primed:
            self._primed = True
            with contextlib.suppress(RuntimeError):  # the feed was deleted meanwhile
                self.ready.emit()

    def _put(self, data: bytes) -> bool:
        with self._cond:
            if self._skip:
                cut = min(self._skip, len(data))
                data = data[cut:]
                self._skip -= cut
            self._buffer += data
            self._cond.notify_all()
            primed = len(self._buffer) >= self._prime_bytes
        if primed and not self._primed:
            self._announce()
        with self._cond:
            while len(self._buffer) >= self._limit and not self._halt.stopped:
                self._cond.wait(0.5)
            return not self._halt.stopped


def default_output_available() -> bool:
    """Whether this machine has an audio output device at all."""
    try:
        return not QMediaDevices.defaultAudioOutput().isNull()
    except Exception:  # a broken multimedia backend must not take the studio down
        log.exception("cannot list audio devices")
        return False


class AudioOutput(QObject):
    """Plays an `AudioFeed` on the default output device and says where the sound is.

    Devices take a while to start sounding (tens of milliseconds on hardware, ~2 s on
    PulseAudio's null sink). The picture never waits for that: `start(…, t)` mixes from
    `t + start_latency` — where the picture will be when the sound begins — and
    `media_time()` is None until the device is actually playing; from then on it is the movie
    time being heard (the feed's start plus the device's processed time), the clock the picture
    follows. Each start measures the device's real start latency for the next one.

    `failed(message)`: the device stopped with an error (the player falls back to its monotonic
    clock). `problem(message)`: a sound source failed while mixing.
    """

    failed = Signal(str)
    problem = Signal(str)

    #: Processed time beyond the first write that proves the device is really playing.
    RUNNING_AFTER = 0.02

    def __init__(self, parent: QObject | None = None, *, available: bool | None = None) -> None:
        super().__init__(parent)
        self.available = default_output_available() if available is None else available
        self.start_latency = 0.15
        self.feed_start = 0.0
        self.muted = False
        #: Why the device stopped last time (None once a start plays again).
        self.last_error: str | None = None
        self._sink: QAudioSink | None = None
        self._feed: AudioFeed | None = None
        self._format = audio_format()
        self._started_at = 0.0
        self._first_processed: int | None = None
        self._running = False
        self._last_processed = -1
        self._last_at = 0.0
        # Stopped feeds whose producer thread has not ended yet (see `_retire`).
        self._retired: list[AudioFeed] = []
        self._reaper = QTimer(self)
        self._reaper.setInterval(50)
        self._reaper.timeout.connect(self._reap)

    @property
    def active(self) -> bool:
        """Started (the device may still be waiting for the first mixed bytes)."""
        return self._feed is not None

    @property
    def running(self) -> bool:
        """The device is playing the feed (not just holding its first bytes)."""
        return self._running

    def start(self, tracks: Sequence[AnyTrack], total_seconds: float, start: float) -> bool:
        """Play the mix so that the sound of time `start` + (time since this call) is heard
        once the device runs; False when there is nothing or nowhere to play."""
        self.stop()
        if not self.available or not tracks:
            return False
        self.feed_start = start + self.start_latency
        self._started_at = time.monotonic()
        try:
            device = QMediaDevices.defaultAudioOutput()
            fmt = audio_format()
            if not device.isFormatSupported(fmt):
                fmt = audio_format(QAudioFormat.SampleFormat.Int16)
            feed = AudioFeed(
                tracks,
                total_seconds,
                self.feed_start,
                sample_format=fmt.sampleFormat(),
                on_error=self.problem.emit,
                parent=self,
            )
            feed.open(QIODevice.OpenModeFlag.ReadOnly)
        except Exception as exc:
            return self._fail(exc)
        self._feed, self._format = feed, fmt
        self._first_processed = None
        self._running = False
        self._last_processed = -1
        # The device starts once the first bytes are mixed (on the producer thread): the GUI
        # thread never waits for the mixer.
        feed.ready.connect(self._open_device)
        return True

    def _open_device(self) -> None:
        feed = self._feed
        if feed is None or self.sender() is not feed or self._sink is not None:
            return  # a feed that was stopped before it was ready
        try:
            sink = QAudioSink(QMediaDevices.defaultAudioOutput(), self._format, self)
            sink.setBufferSize(self._format.bytesForDuration(100_000))
            sink.setVolume(0.0 if self.muted else 1.0)
            sink.start(feed)
        except Exception as exc:
            self._fail(exc)
            return
        self._sink = sink

    def _fail(self, exc: BaseException) -> bool:
        log.error("cannot start audio output", exc_info=exc)
        self.stop()
        self.available = False
        self.last_error = str(exc)
        self.failed.emit(str(exc))
        return False

    def set_muted(self, muted: bool) -> None:
        """Silence the device (the sound keeps running, so it stays the picture's clock)."""
        self.muted = muted
        if self._sink is not None:
            self._sink.setVolume(0.0 if muted else 1.0)

    def media_time(self) -> float | None:
        """The movie time being heard now, or None while the device has not started playing.
        Smoothed with a monotonic clock between the device's coarse updates."""
        sink = self._sink
        if sink is None or not self._check(sink):
            return None
        processed = sink.processedUSecs()
        now = time.monotonic()
        if not self._running:
            if processed <= 0:
                return None
            if self._first_processed is None:
                self._first_processed = processed
            if (processed - self._first_processed) / 1e6 < self.RUNNING_AFTER:
                return None
            self._running = True
            self.last_error = None
            latency = now - self._started_at - processed / 1e6
            self.start_latency = min(max(latency, 0.0), 3.0)
        if processed != self._last_processed:
            self._last_processed, self._last_at = processed, now
        return self.feed_start + processed / 1e6 + min(now - self._last_at, 0.1)

    def stop(self) -> None:
        sink, feed = self._sink, self._feed
        self._sink = self._feed = None
        self._running = False
        if sink is not None:
            sink.stop()
            sink.deleteLater()
        if feed is not None:
            feed.close()
            self._retire(feed)

    def _retire(self, feed: AudioFeed) -> None:
        """Delete a stopped feed once its producer thread has ended, not before: until then
        that thread holds a reference to the feed's Python wrapper, and if it lets go of it
        while Qt is destroying the feed on this thread, the wrapper is freed mid-destruction
        (a crash seen once in ~70 runs of the GUI tests). The producer ends within one block
        of the mix after `close()`; the GUI thread never waits for it."""
        self._retired.append(feed)
        self._reap()
        if self._retired and not self._reaper.isActive():
            self._reaper.start()

    def _reap(self) -> None:
        for feed in [f for f in self._retired if not f.producing]:
            self._retired.remove(feed)
            feed.deleteLater()
        if not self._retired:
            self._reaper.stop()

    def _check(self, sink: QAudioSink) -> bool:
        """False (and `failed`) when the device stopped with an error."""
        error = sink.error()
        if error in (QtAudio.Error.NoError, QtAudio.Error.UnderrunError):
            return True
        self.stop()
        self.last_error = f"Audio output stopped ({error.name})"
        self.failed.emit(self.last_error)
        return False
