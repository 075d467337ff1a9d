"""Audio for the movie: decode any source to 48 kHz stereo float32 and mix tracks on the timeline.

The mix is streamed: `Mixer.blocks(start)` / `mix_blocks` yield the movie's sound block by
block, from any start time, with memory that depends on the block size and the number of
sources playing at once — never on the length of the movie or of a source. Each playing
file-backed track has its own decoder, opened when the track starts and closed when it ends;
looping and starting mid-track seek in the source. A look-ahead peak limiter, whose state is
carried from block to block, turns overlapping loud sources down smoothly instead of clipping.

The same code path serves the render (from 0 to the end) and the preview (from wherever the user
seeks), so both hear exactly the same mix: the decoders seek sample-exactly (see `_FileReader`)
and the limiter is primed with the audio just before the start, so a mix started at `t` equals
the tail of a mix started at 0. `mix` (the whole movie as one array) and `limit` are thin
wrappers for short, in-memory material and tests.
"""

from __future__ import annotations

import collections
import gc
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.audio.frame
import av.audio.stream
import av.container
import av.error
import numpy as np
import numpy.typing as npt

from app.media.errors import MediaError
from app.media.probe import open_container

SAMPLE_RATE = 48000
CHANNELS = 2

AudioArray = npt.NDArray[np.float32]
"""Audio samples: float32, shape (N, 2), nominal range -1..1."""

DEFAULT_BLOCK_SECONDS = 0.5
"""Block length of `mix_blocks`: large enough that per-block Python overhead is negligible for a
render, small enough that a block is ~190 KB. A preview asks for shorter blocks."""

_ATTACK = 0.005  # limiter look-ahead and gain ramp (s)
_HOLD = 0.05  # limiter hold after a peak (s)
# Decoding starts this long before a seek target and the samples before it are dropped: codecs
# need the previous frames to decode a frame exactly (AAC's MDCT overlap, MP3's bit reservoir,
# Opus pre-roll) and the resampler needs its filter history, so the first samples after a raw
# seek differ from a continuous decode. 0.25 s covers all of them with room to spare.
_PREROLL = 0.25
# Retries with a longer pre-roll when a demuxer lands later than asked; None = from the start.
_PREROLLS: tuple[float | None, ...] = (_PREROLL, 1.0, 4.0, None)
_FORWARD_SKIP = 1.0  # a forward jump shorter than this (s) decodes through instead of seeking
_COLLECT_EVERY = 8  # closed containers between cycle collections (see _close_container)


# ---- decoding -----------------------------------------------------------------------------------


class _Reader:
    """Random access to one source as (n, 2) float32 at the mix rate.

    `length` is the source's length in samples; reads past it (or past what decodes) are
    silence. Sequential reads are cheap; anything else may seek.
    """

    length: int

    def read(self, pos: int, n: int) -> AudioArray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the decoder (a reader may be read again later; it then reopens)."""


class _ArrayReader(_Reader):
    """A source already in memory (a `Track`)."""

    def __init__(self, samples: AudioArray) -> None:
        if samples.ndim != 2 or samples.shape[1] != CHANNELS:
            raise ValueError(f"track samples must have shape (N, 2), got {samples.shape}")
        self._samples = samples
        self.length = len(samples)

    def read(self, pos: int, n: int) -> AudioArray:
        if pos >= 0 and pos + n <= self.length:
            return self._samples[pos : pos + n]  # a view: the common case copies nothing
        out = np.zeros((n, CHANNELS), np.float32)
        lo, hi = max(pos, 0), min(pos + n, self.length)
        if hi > lo:
            out[lo - pos : hi - pos] = self._samples[lo:hi]
        return out


@dataclass(frozen=True)
class _StreamFacts:
    """What a reader needs to know about a file's audio, read from its headers."""

    origin: Fraction  # container start time (s): source position 0
    rate_in: int
    mono: bool
    length: int | None  # samples at the mix rate, None if the file does not say


def _stream_facts(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, rate: int
) -> _StreamFacts:
    origin = Fraction(container.start_time or 0, av.time_base)
    seconds: Fraction | None = None
    if container.duration is not None and container.duration > 0:
        # The container's duration, as `probe()` reports it: a video element's sound loops with
        # its picture, so a short audio stream is padded with silence to the video's length.
        seconds = Fraction(container.duration, av.time_base)
    elif stream.duration is not None and stream.time_base is not None:
        tb = stream.time_base
        seconds = (stream.start_time or 0) * tb + stream.duration * tb - origin
    ctx = stream.codec_context
    return _StreamFacts(
        origin=origin,
        rate_in=int(ctx.sample_rate or stream.rate or rate),
        mono=ctx.channels == 1,
        length=round(seconds * rate) if seconds is not None else None,
    )


_closed_containers = 0


def _close_container(container: av.container.InputContainer, collect: bool = True) -> None:
    """Close a container, and every few closes run the cycle collector.

    PyAV's containers and streams reference each other, so their decoders' memory is freed
    only by the cycle collector, which runs rarely once the heap is large. A short looping
    source reopens its file every loop (hundreds of times in a long movie): without this, the
    closed decoders pile up to ~15 MB of RSS before Python collects them. `collect=False`
    (the studio's preview): a full collection holds the GIL for tens of milliseconds in a
    large process, which would stall the GUI thread; Python's own collector frees them later.
    """
    global _closed_containers
    container.close()
    _closed_containers += 1
    if collect and _closed_containers % _COLLECT_EVERY == 0:
        gc.collect()


class _Unplaceable(Exception):
    """A frame after a seek has no timestamp, so its position in the source is unknown."""


class _FileReader(_Reader):
    """Streams the first audio stream of a file, resampled to `rate` stereo float32.

    Source position 0 is the container's start time (so a video's sound stays in sync with its
    picture). Seeking is sample-exact: decoding starts `_PREROLL` before the target, and the
    first decoded frame is cut so that the resampler starts on an input sample that lies exactly
    on the output sample grid (a multiple of rate_in / gcd(rate_in, rate)). The resampler then
    computes every later output sample from the same inputs at the same filter phase as a
    decode from the start of the file would, so seeking anywhere, looping and decoding
    continuously all give the same samples. Memory: one decoded frame plus the resampler.
    """

    _origin: Fraction
    _rate_in: int
    _mono: bool
    _step_in: int
    _step_out: int
    _seekable: bool
    _fresh: bool
    _frames: Iterator[av.audio.frame.AudioFrame] | None
    _resampler: av.AudioResampler | None
    _pending: collections.deque[AudioArray]
    _pending_pos: int
    _aligned: bool
    _from_start: bool
    _started: bool
    _eof: bool
    _decoded_any: bool
    _next: int

    def __init__(
        self, path: str | Path, rate: int, length: int | None = None, collect: bool = True
    ) -> None:
        self.source = str(path)
        self._path = path
        self._collect = collect
        self._rate = rate
        self._container: av.container.InputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._open()
        assert self._stream is not None
        facts = _stream_facts(self._container_or_fail(), self._stream, rate)
        self._origin = facts.origin
        self._rate_in = facts.rate_in
        self._mono = facts.mono
        g = math.gcd(self._rate_in, rate)
        self._step_in, self._step_out = self._rate_in // g, rate // g
        self._seekable = True
        self._reset()
        if length is None:
            length = facts.length if facts.length is not None else self._count_samples()
        self.length = length

    # ---- public -------------------------------------------------------------------------------

    def read(self, pos: int, n: int) -> AudioArray:
        out = np.zeros((n, CHANNELS), np.float32)
        end = min(pos + n, self.length)
        if end <= pos:
            return out
        if (
            self._container is None
            or not self._started
            or pos < self._next
            or pos > self._next + _FORWARD_SKIP * self._rate
        ):
            self._start(pos)
        filled = pos
        while filled < end:
            if not self._pending:
                if self._eof or not self._decode_more():
                    break
                continue
            head = self._pending[0]
            if self._pending_pos < filled:  # before the target: drop
                cut = min(filled - self._pending_pos, len(head))
                self._consume(cut)
            elif self._pending_pos > filled:  # a gap in the source: silence
                filled = min(self._pending_pos, end)
            else:
                take = min(len(head), end - filled)
                out[filled - pos : filled - pos + take] = head[:take]
                self._consume(take)
                filled += take
        self._next = pos + n
        return out

    def close(self) -> None:
        if self._container is not None:
            _close_container(self._container, self._collect)
        self._container = None
        self._stream = None
        self._reset()

    # ---- internals ----------------------------------------------------------------------------

    def _open(self) -> None:
        if self._container is not None:
            _close_container(self._container, self._collect)
        self._container = None
        container = open_container(self._path)
        try:
            if not container.streams.audio:
                raise MediaError(self.source, "no_audio", "The file has no audio")
            stream = container.streams.audio[0]
            if stream.codec_context is None:
                raise MediaError(
                    self.source, "unsupported_codec", "The audio format is not supported"
                )
        except BaseException:
            container.close()
            raise
        self._container = container
        self._stream = stream
        self._fresh = True  # opened and not read from yet

    def _container_or_fail(self) -> av.container.InputContainer:
        if self._container is None:
            raise ValueError("reader is closed")
        return self._container

    def _reset(self) -> None:
        """Forget the decoding state (after a seek or close)."""
        self._frames = None
        self._resampler = None
        self._pending = collections.deque()
        self._pending_pos = 0  # source position of self._pending[0][0]
        self._aligned = False  # whether the first frame since the last (re)start was placed
        self._from_start = False  # whether decoding began at the start of the file (no seek)
        self._started = False
        self._eof = False
        self._decoded_any = False
        self._next = 0

    def _consume(self, k: int) -> None:
        head = self._pending[0]
        if k >= len(head):
            self._pending.popleft()
        else:
            self._pending[0] = head[k:]
        self._pending_pos += k

    def _start(self, pos: int) -> None:
        """Position the decoder so that the next decoded samples are at or before `pos`, with at
        least the pre-roll decoded before it (or the start of the file)."""
        target = Fraction(pos, self._rate)
        for preroll in _PREROLLS:
            self._reset()
            if preroll is None or not self._seekable or target - Fraction(preroll) <= 0:
                if not self._fresh:
                    self._open()  # from the start: exactly what a first decode does
                self._started = self._from_start = True
                self._next = pos
                return
            if self._container is None:
                self._open()
            container = self._container_or_fail()
            assert self._stream is not None and self._stream.time_base is not None
            self._fresh = False
            ts = math.floor((self._origin + target - Fraction(preroll)) / self._stream.time_base)
            try:
                container.seek(ts, stream=self._stream, backward=True)
            except av.error.FFmpegError:
                self._seekable = False
                continue
            self._started = True
            self._next = pos
            # Accept the seek only if decoding starts well before the target (or nothing is left
            # to decode there: the target is past the end of the audio, which is silence).
            try:
                while not self._pending and not self._eof:
                    self._decode_more()
            except _Unplaceable:
                continue
            if not self._pending or self._pending_pos <= pos - round(preroll * self._rate) // 2:
                return
        raise AssertionError("unreachable: the last pre-roll decodes from the start")

    def _decode_more(self) -> bool:
        """Decode one more frame into `_pending`; False at the end of the stream."""
        container = self._container_or_fail()
        assert self._stream is not None
        if self._frames is None:
            self._frames = iter(container.decode(self._stream))
            self._fresh = False
        try:
            frame = next(self._frames)
        except StopIteration:
            return self._finish()
        except av.error.FFmpegError as exc:
            if not self._decoded_any:
                raise MediaError(
                    self.source, "truncated", f"The audio cannot be decoded: {exc}"
                ) from None
            return self._finish()  # a damaged tail: what decoded stays, the rest is silence
        if not self._aligned:
            aligned = self._align(frame)
            if aligned is None:
                return True  # the frame ended before the first grid point
            frame = aligned
        self._decoded_any = True
        self._push(frame)
        return True

    def _align(self, frame: av.audio.frame.AudioFrame) -> av.audio.frame.AudioFrame | None:
        """Cut the first frame after a (re)start so it begins on the output grid, and note the
        source position of the first output sample."""
        tb = frame.time_base or (self._stream.time_base if self._stream else None)
        if frame.pts is None or tb is None:
            if not self._from_start:
                # After a seek a frame without a timestamp cannot be placed: give up seeking
                # in this file (`_start` then decodes from the start).
                self._seekable = False
                raise _Unplaceable
            first_in = 0
        else:
            first_in = round((frame.pts * tb - self._origin) * self._rate_in)
        cut = -first_in % self._step_in
        if cut >= frame.samples:
            return None
        if cut:
            data = frame.to_ndarray()
            planar = frame.format.is_planar
            data = data[:, cut:] if planar else data[:, cut * len(frame.layout.channels) :]
            trimmed = av.AudioFrame.from_ndarray(
                cast(Any, np.ascontiguousarray(data)),
                format=frame.format.name,
                layout=frame.layout.name,
            )
            trimmed.sample_rate = frame.sample_rate
            if frame.pts is not None and tb is not None:
                trimmed.time_base = tb
                trimmed.pts = frame.pts + round(Fraction(cut, frame.sample_rate) / tb)
            frame = trimmed
        self._pending_pos = (first_in + cut) // self._step_in * self._step_out
        self._aligned = True
        self._resampler = av.AudioResampler(
            format="flt", layout="mono" if self._mono else "stereo", rate=self._rate
        )
        return frame

    def _push(self, frame: av.audio.frame.AudioFrame | None) -> None:
        assert self._resampler is not None
        try:
            produced = self._resampler.resample(frame)
        except (ValueError, av.error.FFmpegError) as exc:
            raise MediaError(
                self.source, "unsupported_codec", f"The audio cannot be converted: {exc}"
            ) from None
        for out in produced:
            data = out.to_ndarray().astype(np.float32, copy=False)
            data = data.reshape(-1, 1) if self._mono else data.reshape(-1, CHANNELS)
            if self._mono:
                data = np.repeat(data, CHANNELS, axis=1)  # mono plays at full level on both
            if len(data):
                self._pending.append(data)

    def _finish(self) -> bool:
        self._eof = True
        if self._resampler is None:
            return False
        before = len(self._pending)
        self._push(None)
        return len(self._pending) > before

    def _count_samples(self) -> int:
        """The length of a source whose headers do not tell it, by decoding it once (bounded
        memory: samples are counted and dropped)."""
        self._start(0)
        end = 0
        while self._decode_more() or self._pending:
            while self._pending:
                end = self._pending_pos + len(self._pending[0])
                self._consume(len(self._pending[0]))
            if self._eof:
                break
        self._reset()
        return end


def audio_duration(path: str | Path) -> float:
    """How long a file's sound lasts for the mixer (s): the length a non-looping track plays
    and the period of a looping one. This is `probe(path).duration` (the container's duration,
    so a video's sound loops with its picture), or, if the headers do not say, the length of
    the decoded audio. Cheap for ordinary files: it reads headers only. Raises `MediaError`."""
    reader = _FileReader(path, SAMPLE_RATE)
    try:
        return reader.length / SAMPLE_RATE
    finally:
        reader.close()


def load_audio(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> AudioArray:
    """Decode the first audio stream of any media file to float32 stereo at `sample_rate`,
    from `start` seconds for `duration` seconds (to the end of the source at most).

    Holds the whole range in memory: for whole movies use `mix_blocks`. Mono sources are
    copied to both channels at full level. Raises `MediaError` (`no_audio` if the file has
    none).
    """
    if start < 0:
        raise ValueError("start must be >= 0")
    reader = _FileReader(path, sample_rate)
    try:
        pos = round(start * sample_rate)
        n = max(0, reader.length - pos)
        if duration is not None:
            n = min(n, round(duration * sample_rate))
        return reader.read(pos, n)
    finally:
        reader.close()


# ---- tracks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioTrack:
    """One file's sound placed on the movie timeline, decoded while it plays.

    `start` is where it begins on the timeline (may be negative: the part before 0 is
    skipped); `trim_start` where in the source it begins; it plays for `duration` seconds,
    until `end` (a timeline time, e.g. where its element ends), until the movie ends or until
    the source runs out — whichever comes first; with `loop` the trimmed source restarts when
    it ends. `fade_in`/`fade_out` are linear ramps at the start and end of what plays;
    `volume` is clamped to 0..1. `source_duration` is the source's length in seconds if the
    caller already knows it (the value of `audio_duration(path)`); otherwise the mixer finds
    it out when the track starts.
    """

    path: str | Path
    start: float = 0.0
    duration: float | None = None
    trim_start: float = 0.0
    volume: float = 1.0
    loop: bool = False
    fade_in: float = 0.0
    fade_out: float = 0.0
    end: float | None = None
    source_duration: float | None = None


@dataclass(frozen=True)
class Track:
    """Like `AudioTrack`, for samples already in memory: `samples` (N, 2) float32 at the mix
    rate (a source's length is len(samples))."""

    samples: AudioArray
    start: float = 0.0
    duration: float | None = None
    trim_start: float = 0.0
    volume: float = 1.0
    loop: bool = False
    fade_in: float = 0.0
    fade_out: float = 0.0
    end: float | None = None


AnyTrack = AudioTrack | Track


class _Player:
    """A track while it plays: its reader and where on the timeline its samples go."""

    def __init__(self, track: AnyTrack, reader: _Reader, t0: int, n_total: int, rate: int) -> None:
        self.reader = reader
        self.t0 = t0
        self.volume = float(min(max(track.volume, 0.0), 1.0))
        self.trim = max(0, round(track.trim_start * rate))
        self.loop = track.loop
        self.loop_len = reader.length - self.trim
        bound = _stop_bound(track, t0, n_total, rate)
        self.stop = bound if track.loop else min(bound, t0 + max(self.loop_len, 0))
        self.length = self.stop - t0  # samples that play, counted from the track's start
        self.n_in = round(track.fade_in * rate)
        self.n_out = round(track.fade_out * rate)

    @property
    def silent(self) -> bool:
        return self.volume == 0.0 or self.loop_len <= 0 or self.length <= 0

    def add_into(self, out: AudioArray, b0: int) -> None:
        """Add this track's samples for timeline [b0, b0 + len(out)) into `out`."""
        b1 = b0 + len(out)
        k0, k1 = max(b0, self.t0) - self.t0, min(b1, self.stop) - self.t0
        if k1 <= k0:
            return
        gain: float | AudioArray = self.volume
        if k0 < self.n_in or k1 > self.length - self.n_out:
            # float64 positions: float32 is exact only to 2**24 samples (~6 minutes).
            ks = np.arange(k0, k1, dtype=np.float64)
            env = np.ones(k1 - k0, dtype=np.float64)
            if self.n_in > 0:
                np.minimum(env, ks / self.n_in, out=env)
            if self.n_out > 0:
                np.minimum(env, (self.length - ks) / self.n_out, out=env)
            gain = (env * self.volume).astype(np.float32)[:, None]
        k = k0
        while k < k1:
            if self.loop:
                phase = k % self.loop_len
                run = min(k1 - k, self.loop_len - phase)
                src = self.trim + phase
            else:
                run, src = k1 - k, self.trim + k
            chunk = self.reader.read(src, run)
            g = gain if isinstance(gain, float) else gain[k - k0 : k - k0 + run]
            target = out[self.t0 + k - b0 : self.t0 + k - b0 + run]
            target += chunk * g
            k += run


def _stop_bound(track: AnyTrack, t0: int, n_total: int, rate: int) -> int:
    """Where a track stops on the timeline if its source never ran out."""
    stop = n_total
    if track.end is not None:
        stop = min(stop, round(track.end * rate))
    if track.duration is not None:
        stop = min(stop, t0 + round(track.duration * rate))
    return stop


# ---- limiter ------------------------------------------------------------------------------------


def _running_min(x: npt.NDArray[np.float32], before: int, after: int) -> npt.NDArray[np.float32]:
    """r[i] = min(x[i - before : i + after + 1]), edges padded with 1.0; O(N) (van Herk)."""
    w = before + after + 1
    n = len(x)
    nb = -(-(n + w) // w) + 1
    padded = np.ones(nb * w, dtype=np.float32)
    padded[before : before + n] = x
    blocks = padded.reshape(nb, w)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    # Window for output i covers padded[i : i + w].
    return np.minimum(suffix[:n], prefix[w - 1 : w - 1 + n])


class _Limiter:
    """Streaming look-ahead peak limiter: afterwards every |sample| <= `ceiling`.

    Per sample i, the gain needed is `needed[i] = min(1, ceiling / peak[i])`; it is min-filtered
    over the window [i - hold, i + attack - 1] (`floor`), and the applied gain is the mean of
    the last `attack` floors. The gain therefore ramps down linearly over `attack` samples
    before a peak (never a step), stays down through the hold, and never exceeds `needed[i]`
    (every floor in the mean covers sample i), so the output never exceeds the ceiling.

    The filters look `attack - 1` samples ahead, so output lags input by that much. State
    carried across `push` calls: the input not yet output, `needed` for the hold window behind
    the next output sample plus the look-ahead, and the last `attack - 1` floors for the mean —
    so the output of any split of the input into blocks is the same as for the input at once.
    Before the first sample the floors are taken equal to the first floor, and past the end
    `needed` is 1 (nothing to turn down).
    """

    def __init__(self, rate: int, ceiling: float, attack: float = _ATTACK, hold: float = _HOLD):
        self.a = max(1, round(attack * rate))
        self.h = max(0, round(hold * rate))
        self.ceiling = float(ceiling)
        self._raw = np.zeros((0, CHANNELS), np.float32)  # input from the next output sample on
        self._needed = np.ones(self.h, np.float32)  # from (next output - hold) on
        self._floors: npt.NDArray[np.float32] | None = None  # the `a - 1` floors before it
        self._finished = False

    @property
    def history(self) -> int:
        """Input needed before a sample for its output to be exact: hold + look-ahead."""
        return self.a + self.h - 1

    def push(self, raw: AudioArray) -> AudioArray:
        """Feed the next input samples; returns the output that is now final (possibly none)."""
        if self._finished:
            raise ValueError("limiter already finished")
        with np.errstate(divide="ignore"):
            # Two 1-D passes: much faster than a max over a length-2 axis.
            peak = np.maximum(np.abs(raw[:, 0]), np.abs(raw[:, 1]))
            needed = np.minimum(np.float32(1.0), np.float32(self.ceiling) / peak)
        self._needed = np.concatenate([self._needed, needed.astype(np.float32)])
        self._raw = np.concatenate([self._raw, raw]) if len(self._raw) else raw
        return self._run(len(self._raw) - (self.a - 1))

    def finish(self) -> AudioArray:
        """Output the last `attack - 1` samples (the look-ahead past the end sees silence)."""
        self._finished = True
        self._needed = np.concatenate([self._needed, np.ones(self.a - 1, np.float32)])
        return self._run(len(self._raw))

    def _run(self, m: int) -> AudioArray:
        if m <= 0:
            return np.zeros((0, CHANNELS), np.float32)
        a, h = self.a, self.h
        window = self._needed[: h + m + a - 1]
        raw, self._raw = self._raw[:m], self._raw[m:]
        self._needed = self._needed[m:]
        if float(window.min()) >= 1.0 and (
            self._floors is None or float(self._floors.min()) >= 1.0
        ):
            # Nothing to turn down (the common case): gain 1, floors 1.
            self._floors = np.ones(a - 1, np.float32)
            out = np.array(raw, dtype=np.float32, copy=True)
        else:
            floor = _running_min(window, before=h, after=a - 1)[h : h + m]
            history = self._floors if self._floors is not None else np.full(a - 1, floor[0])
            seq = np.concatenate([history, floor]).astype(np.float64)
            c = np.concatenate([[0.0], np.cumsum(seq)])
            gain = ((c[a : a + m] - c[:m]) / a).astype(np.float32)
            self._floors = seq[len(seq) - (a - 1) :].astype(np.float32)
            out = raw * gain[:, None]
        # Float rounding can leave a peak a hair above the ceiling.
        np.clip(out, -self.ceiling, self.ceiling, out=out)
        return out


def limit(
    samples: AudioArray,
    sample_rate: int = SAMPLE_RATE,
    ceiling: float = 0.98,
    attack: float = _ATTACK,
    hold: float = _HOLD,
) -> None:
    """Look-ahead peak limiter, in place: afterwards every |sample| <= `ceiling` (see
    `_Limiter`: loud passages are turned down smoothly as a whole instead of distorting each
    waveform peak). Audio that needs no reduction is left bit-identical."""
    limiter = _Limiter(sample_rate, ceiling, attack, hold)
    step = 1 << 16
    pos = 0
    for b0 in range(0, len(samples), step):
        # Copy the input block: the limiter keeps it until its output is due, and the output
        # is written back into `samples` in the meantime.
        out = limiter.push(samples[b0 : b0 + step].copy())
        samples[pos : pos + len(out)] = out
        pos += len(out)
    out = limiter.finish()
    samples[pos : pos + len(out)] = out


# ---- mixing -------------------------------------------------------------------------------------


class Mixer:
    """The movie's sound, computed block by block from any start time.

    `tracks` may mix `AudioTrack` (decoded while they play) and `Track` (in memory). Probed
    source lengths are cached, so a preview that seeks often calls `blocks(t)` on the same
    mixer. Each `blocks()` iterator opens the decoders of the tracks it plays and closes them
    when the track ends or the iterator is closed or exhausted.
    """

    def __init__(
        self,
        tracks: Sequence[AnyTrack],
        total_seconds: float,
        *,
        sample_rate: int = SAMPLE_RATE,
        ceiling: float = 0.98,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        collect_garbage: bool = True,
    ) -> None:
        """`collect_garbage=False` for interactive callers (the preview): closing decoders
        never forces a full garbage collection (see `_close_container`)."""
        if block_seconds <= 0:
            raise ValueError("block_seconds must be positive")
        self.collect_garbage = collect_garbage
        self.tracks = list(tracks)
        self.sample_rate = sample_rate
        self.ceiling = ceiling
        self.total_samples = max(0, round(total_seconds * sample_rate))
        self.block_samples = max(1, round(block_seconds * sample_rate))
        self._lengths: dict[str, int] = {}

    def blocks(self, start: float = 0.0) -> Iterator[AudioArray]:
        """Consecutive (n, 2) float32 blocks of `block_samples` (the last one shorter) from
        `start` to the end of the movie. Raises `MediaError` naming the file if a source cannot
        be decoded."""
        rate = self.sample_rate
        n_total = self.total_samples
        s0 = min(max(0, round(start * rate)), n_total)
        limiter = _Limiter(rate, self.ceiling)
        # Mix a little before `start` so the limiter's hold and look-ahead see what a mix from
        # 0 would see there: the result equals the tail of a full mix.
        pos = s0 - min(s0, limiter.history)
        drop = s0 - pos
        # (timeline start, index) of the tracks not started yet, first first.
        waiting = collections.deque(
            sorted((round(t.start * rate), i) for i, t in enumerate(self.tracks))
        )
        playing: list[_Player] = []
        out = _Rechunker(self.block_samples)
        try:
            while pos < n_total:
                b1 = min(pos + self.block_samples, n_total)
                while waiting and waiting[0][0] < b1:
                    t0, index = waiting.popleft()
                    player = self._player(self.tracks[index], t0, pos)
                    if player is not None:
                        playing.append(player)
                raw = np.zeros((b1 - pos, CHANNELS), np.float32)
                for player in playing:
                    player.add_into(raw, pos)
                for player in [p for p in playing if p.stop <= b1]:
                    player.reader.close()
                    playing.remove(player)
                pos = b1
                limited = limiter.push(raw)
                if drop:
                    cut = min(drop, len(limited))
                    limited, drop = limited[cut:], drop - cut
                yield from out.add(limited)
            limited = limiter.finish()[drop:]
            yield from out.add(limited)
            yield from out.flush()
        finally:
            for player in playing:
                player.reader.close()

    def _player(self, track: AnyTrack, t0: int, pos: int) -> _Player | None:
        """Start a track that begins before the current block ends, or None if it is silent
        or already over at `pos` (then no decoder stays open)."""
        rate = self.sample_rate
        if _stop_bound(track, t0, self.total_samples, rate) <= max(pos, t0):
            return None
        if min(max(track.volume, 0.0), 1.0) == 0.0:
            return None
        reader: _Reader
        if isinstance(track, Track):
            reader = _ArrayReader(track.samples)
        else:
            key = str(track.path)
            known = (
                round(track.source_duration * rate)
                if track.source_duration is not None
                else self._lengths.get(key)
            )
            reader = _FileReader(track.path, rate, known, collect=self.collect_garbage)
            if track.source_duration is None:
                self._lengths[key] = reader.length
        player = _Player(track, reader, t0, self.total_samples, rate)
        if player.silent or player.stop <= pos:
            reader.close()
            return None
        return player


class _Rechunker:
    """Regroups arrays of any length into blocks of exactly `size` samples."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._parts: list[AudioArray] = []
        self._count = 0

    def add(self, part: AudioArray) -> Iterator[AudioArray]:
        if len(part):
            self._parts.append(part)
            self._count += len(part)
        while self._count >= self.size:
            joined = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
            yield joined[: self.size].copy() if len(joined) > self.size else joined
            rest = joined[self.size :]
            self._parts = [rest.copy()] if len(rest) else []
            self._count = len(rest)

    def flush(self) -> Iterator[AudioArray]:
        if self._count:
            yield np.concatenate(self._parts)
        self._parts, self._count = [], 0


def mix_blocks(
    tracks: Sequence[AnyTrack],
    total_seconds: float,
    *,
    start: float = 0.0,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    sample_rate: int = SAMPLE_RATE,
    ceiling: float = 0.98,
) -> Iterator[AudioArray]:
    """The movie's limited mix from `start` to `total_seconds`, as consecutive (n, 2) float32
    blocks of `block_seconds` (the last one shorter). Memory stays bounded whatever the movie
    and source lengths. See `Mixer`."""
    mixer = Mixer(
        tracks,
        total_seconds,
        sample_rate=sample_rate,
        ceiling=ceiling,
        block_seconds=block_seconds,
    )
    return mixer.blocks(start)


def mix(
    tracks: Sequence[AnyTrack],
    total_seconds: float,
    sample_rate: int = SAMPLE_RATE,
    ceiling: float = 0.98,
) -> AudioArray:
    """The whole mix as one (N, 2) float32 array (the same samples `mix_blocks` yields): for
    short material and tests; a movie should be streamed."""
    n = max(0, round(total_seconds * sample_rate))
    out = np.empty((n, CHANNELS), dtype=np.float32)
    pos = 0
    for block in mix_blocks(tracks, total_seconds, sample_rate=sample_rate, ceiling=ceiling):
        out[pos : pos + len(block)] = block
        pos += len(block)
    assert pos == n
    return out
