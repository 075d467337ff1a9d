"""Audio for the movie: decode any source to 48 kHz stereo float32 and mix tracks on the timeline.

The mix is computed in place into one preallocated buffer and finished by a look-ahead peak
limiter, so overlapping loud sources are turned down smoothly instead of clipping or wrapping
around. All work is vectorised numpy over bounded blocks, so temporaries stay small even for a
long movie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import av.audio.frame
import av.error
import numpy as np
import numpy.typing as npt

from app.media.errors import MediaError
from app.media.probe import open_container

SAMPLE_RATE = 48000
CHANNELS = 2

AudioArray = npt.NDArray[np.float32]
"""Audio samples: float32, shape (N, 2), nominal range -1..1."""

_BLOCK = 1 << 18  # samples per block for mixing and limiting (~5.5 s at 48 kHz)


def load_audio(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> AudioArray:
    """Decode the first audio stream of any media file to float32 stereo at `sample_rate`,
    from `start` seconds for `duration` seconds (to the end if None).

    Mono sources are copied to both channels at full level. Raises `MediaError` (`no_audio`
    if the file has none).
    """
    if start < 0:
        raise ValueError("start must be >= 0")
    source = str(path)
    container = open_container(path)
    try:
        if not container.streams.audio:
            raise MediaError(source, "no_audio", "The file has no audio")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise MediaError(source, "unsupported_codec", "The audio format is not supported")
        mono = stream.codec_context.channels == 1
        resampler = av.AudioResampler(
            format="flt", layout="mono" if mono else "stereo", rate=sample_rate
        )
        total = container.duration / av.time_base if container.duration else None
        wanted = duration if duration is not None else (max(total - start, 0.0) if total else None)
        buf = _Growable(int(wanted * sample_rate) + sample_rate // 10 if wanted else sample_rate)
        limit = round(duration * sample_rate) if duration is not None else None
        if start > 0:
            container.seek(int(start * av.time_base), backward=True)
        skip: int | None = None  # output samples before `start`, known at the first frame

        def take(frames: list[av.audio.frame.AudioFrame]) -> bool:
            nonlocal skip
            for out in frames:
                data = out.to_ndarray().astype(np.float32, copy=False).reshape(-1, 1 if mono else 2)
                if skip:
                    cut = min(skip, len(data))
                    data = data[cut:]
                    skip -= cut
                if limit is not None:
                    data = data[: limit - buf.size]
                buf.append(data)
                if limit is not None and buf.size >= limit:
                    return False
            return True

        try:
            for frame in container.decode(stream):
                if skip is None:
                    first = frame.time if frame.time is not None else start
                    if (
                        start > 0
                        and frame.time is not None
                        and frame.time + (frame.samples / frame.sample_rate) <= start
                    ):
                        continue  # entirely before start
                    skip = max(0, round((start - first) * sample_rate))
                if not take(resampler.resample(frame)):
                    break
            else:
                take(resampler.resample(None))
        except av.error.FFmpegError as exc:
            if buf.size == 0:
                raise MediaError(
                    source, "truncated", f"The audio cannot be decoded: {exc}"
                ) from None
            # A damaged tail: keep what decoded.
        samples = buf.result()
    finally:
        container.close()
    if mono:
        samples = np.repeat(samples, 2, axis=1)
    return samples


class _Growable:
    """An (N, c) float32 buffer filled by appends, sized up front to avoid a final concatenate."""

    def __init__(self, capacity: int) -> None:
        self._data: npt.NDArray[np.float32] | None = None
        self._capacity = max(capacity, 1024)
        self.size = 0

    def append(self, chunk: npt.NDArray[np.float32]) -> None:
        if self._data is None:
            self._data = np.empty((self._capacity, chunk.shape[1]), dtype=np.float32)
        need = self.size + len(chunk)
        if need > len(self._data):
            grown = np.empty((max(need, len(self._data) * 3 // 2), self._data.shape[1]), np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : need] = chunk
        self.size = need

    def result(self) -> npt.NDArray[np.float32]:
        if self._data is None:
            return np.zeros((0, 1), dtype=np.float32)
        if len(self._data) - self.size > SAMPLE_RATE:  # do not keep a large unused tail
            return self._data[: self.size].copy()
        return self._data[: self.size]


@dataclass(frozen=True)
class Track:
    """One source placed on the movie timeline.

    `samples` (N, 2) at the mix rate; `start` where it begins on the timeline; `trim_start`
    where in the source it begins; it plays for `duration` seconds, until `end` (a timeline
    time, e.g. where its element ends), or until the source runs out — whichever comes first;
    with `loop` the trimmed source restarts when it ends (then `duration`/`end`/the movie end
    bound it). `fade_in`/`fade_out` are linear ramps at the start and end of what plays.
    """

    samples: AudioArray
    start: float = 0.0
    duration: float | None = None
    trim_start: float = 0.0
    volume: float = 1.0
    loop: bool = False
    fade_in: float = 0.0
    fade_out: float = 0.0
    end: float | None = None


def mix(
    tracks: Sequence[Track],
    total_seconds: float,
    sample_rate: int = SAMPLE_RATE,
    ceiling: float = 0.98,
) -> AudioArray:
    """Mix tracks into one (N, 2) float32 buffer of `total_seconds`, then limit peaks to
    `ceiling` with a smooth look-ahead limiter (no clipping, no wrap-around)."""
    n = max(0, round(total_seconds * sample_rate))
    out = np.zeros((n, CHANNELS), dtype=np.float32)
    for track in tracks:
        _place(out, track, sample_rate)
    limit(out, sample_rate, ceiling=ceiling)
    return out


def _place(out: AudioArray, track: Track, rate: int) -> None:
    """Add one track's contribution into `out` in place, block by block."""
    src = track.samples
    if src.ndim != 2 or src.shape[1] != CHANNELS:
        raise ValueError(f"track samples must have shape (N, 2), got {src.shape}")
    volume = float(min(max(track.volume, 0.0), 1.0))
    trim = max(0, round(track.trim_start * rate))
    loop_len = len(src) - trim
    if volume == 0.0 or loop_len <= 0:
        return
    t0 = round(track.start * rate)
    stop = len(out)
    if track.end is not None:
        stop = min(stop, round(track.end * rate))
    if track.duration is not None:
        stop = min(stop, t0 + round(track.duration * rate))
    if not track.loop:
        stop = min(stop, t0 + loop_len)
    if stop <= t0:
        return
    length = stop - t0  # samples that play, counted from the track's start
    n_in = round(track.fade_in * rate)
    n_out = round(track.fade_out * rate)
    first = max(0, -t0)  # part of the track before the timeline start is skipped
    for k0 in range(first, length, _BLOCK):
        k1 = min(k0 + _BLOCK, length)
        pos = (k0 + np.arange(k1 - k0)) % loop_len + trim if track.loop else None
        chunk = src[pos] if pos is not None else src[trim + k0 : trim + k1]
        gain: float | npt.NDArray[np.float32] = volume
        if k0 < n_in or k1 > length - n_out:
            k = np.arange(k0, k1, dtype=np.float32)
            env = np.ones(k1 - k0, dtype=np.float32)
            if n_in > 0:
                np.minimum(env, k / n_in, out=env)
            if n_out > 0:
                np.minimum(env, (length - k) / n_out, out=env)
            gain = (env * volume)[:, None]
        target = out[t0 + k0 : t0 + k1]
        target += chunk * gain


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


def _moving_average(x: npt.NDArray[np.float32], w: int) -> npt.NDArray[np.float32]:
    """a[i] = mean(x[i - w + 1 : i + 1]), with x[0] repeated before the start."""
    c = np.cumsum(np.concatenate([np.full(w, x[0], np.float64), x.astype(np.float64)]))
    return ((c[w:] - c[:-w]) / w).astype(np.float32)


def limit(
    samples: AudioArray,
    sample_rate: int = SAMPLE_RATE,
    ceiling: float = 0.98,
    attack: float = 0.005,
    hold: float = 0.05,
) -> None:
    """Look-ahead peak limiter, in place: afterwards every |sample| <= `ceiling`.

    The gain needed per sample (ceiling / peak) is min-filtered over the next `attack` and the
    last `hold` seconds, then smoothed by an `attack`-long moving average: the gain ramps down
    linearly before a peak (it never jumps) and stays down through the hold, so loud passages
    are turned down as a whole instead of distorting each waveform peak. Since the average only
    covers values that are at most the needed gain, the result never exceeds the ceiling.
    Blocks that need no reduction cost one max().
    """
    n = len(samples)
    if n == 0:
        return
    a = max(1, round(attack * sample_rate))
    h = max(0, round(hold * sample_rate))
    margin = a + h + 1
    for b0 in range(0, n, _BLOCK):
        b1 = min(b0 + _BLOCK, n)
        lo, hi = max(0, b0 - margin), min(n, b1 + margin)
        peak = np.abs(samples[lo:hi]).max(axis=1)
        if float(peak.max(initial=0.0)) <= ceiling:
            continue
        with np.errstate(divide="ignore"):
            needed = np.minimum(np.float32(1.0), np.float32(ceiling) / peak).astype(np.float32)
        # Look-ahead `a` samples (attack) and hold `h` behind, then an `a`-long average.
        floor = _running_min(needed, before=h, after=a - 1)
        gain = _moving_average(floor, a)
        samples[b0:b1] *= gain[b0 - lo : b1 - lo, None]
    # Float rounding can leave a peak a hair above the ceiling.
    np.clip(samples, -ceiling, ceiling, out=samples)
