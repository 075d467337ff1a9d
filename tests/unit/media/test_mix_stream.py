"""The streaming mixer: sample-exact seeking in sources, the same mix whatever the block size or
start time, a limiter whose state crosses block boundaries, and memory independent of length."""

from __future__ import annotations

import os
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.media.audio import (
    AudioTrack,
    Mixer,
    Track,
    audio_duration,
    load_audio,
    mix,
    mix_blocks,
)
from app.media.errors import MediaError
from app.media.probe import probe
from tests.unit.media.conftest import decode_reference, write_tone

RATE = 48000


@pytest.fixture(scope="module")
def loop_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s stereo 1 kHz sine at 44.1 kHz: exercises resampling and seeking in AAC."""
    return write_tone(tmp_path_factory.mktemp("mix") / "loop3.m4a", 3.0, 44100, "stereo")


@pytest.fixture(scope="module")
def long_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s mono 1 kHz sine at 48 kHz."""
    return write_tone(tmp_path_factory.mktemp("mix") / "long20.m4a", 20.0, 48000, "mono")


def _concat(blocks: object) -> np.ndarray:
    return np.concatenate(list(blocks))  # type: ignore[call-overload]


def _reference(path: Path) -> np.ndarray:
    """The source decoded continuously, cut or padded to the length the mixer uses."""
    n = round(audio_duration(path) * RATE)
    ref = decode_reference(path)[:n]
    return np.pad(ref, ((0, n - len(ref)), (0, 0)))


def _place(out: np.ndarray, src: np.ndarray, track: AudioTrack) -> None:
    """What the mixer should add for `track` (whole-array numpy, no limiting)."""
    n = len(out)
    t0, trim = round(track.start * RATE), round(track.trim_start * RATE)
    body = src[trim:]
    stop = n
    if track.end is not None:
        stop = min(stop, round(track.end * RATE))
    if track.duration is not None:
        stop = min(stop, t0 + round(track.duration * RATE))
    if not track.loop:
        stop = min(stop, t0 + len(body))
    length = stop - t0
    k = np.arange(max(0, -t0), length)
    samples = body[k % len(body)] if track.loop else body[k]
    env = np.ones(len(k))
    if track.fade_in:
        env = np.minimum(env, k / round(track.fade_in * RATE))
    if track.fade_out:
        env = np.minimum(env, (length - k) / round(track.fade_out * RATE))
    out[t0 + k] += samples * (env * track.volume)[:, None]


def _assert_same_mix(actual: np.ndarray, expected: np.ndarray, tracks: list[AudioTrack]) -> None:
    """Equal to float precision, except around the points where a file source runs out.

    FFmpeg's AAC decoder gives the last ~2 ms of a source slightly differently depending on
    where decoding began (the start of the file or a seek), by up to ~0.007 on these test
    tones, below the codec's own error (~0.025). Where the limiter is active that difference
    moves its gain for its look-ahead before and hold after (5 + 50 ms). Anything misplaced (a
    loop or seek off by a fraction of a sample, a fade in the wrong place, an unprimed limiter)
    differs by far more and far more widely."""
    diff = np.abs(actual - expected).max(axis=1)
    near_end = np.zeros(len(diff), bool)
    for track in tracks:
        period = round((audio_duration(track.path) - track.trim_start) * RATE)
        t0 = round(track.start * RATE)
        for end in range(t0 + period, len(diff) + period, period):
            near_end[max(0, end - RATE * 7 // 1000) : max(0, end + RATE * 60 // 1000)] = True
    assert diff[~near_end].max() < 1e-5
    assert diff.max() < 1e-2


# ---- decoding ---------------------------------------------------------------------------------


def test_audio_duration_is_the_probed_duration(loop_src: Path, long_src: Path, clip: Path) -> None:
    for path in (loop_src, long_src, clip):
        assert audio_duration(path) == pytest.approx(probe(path).duration)
    assert audio_duration(loop_src) == pytest.approx(3.0)
    assert len(decode_reference(loop_src)) == pytest.approx(3.0 * RATE, abs=RATE * 0.002)


def test_continuous_decode_equals_plain_pyav(loop_src: Path, long_src: Path) -> None:
    for path in (loop_src, long_src):
        np.testing.assert_allclose(load_audio(path), _reference(path), atol=1e-6)


@pytest.mark.parametrize("start", [0.3, 0.7391, 1.37, 2.2])
def test_seeking_is_sample_exact(loop_src: Path, start: float) -> None:
    # A seek lands between AAC frames and between resampler grid points (44.1 -> 48 kHz); a
    # seek that is off by a fraction of a sample would differ by ~0.03 on this 1 kHz sine.
    ref = _reference(loop_src)
    part = load_audio(loop_src, start=start, duration=0.5)
    pos = round(start * RATE)
    assert len(part) == RATE // 2
    np.testing.assert_allclose(part, ref[pos : pos + len(part)], atol=1e-5)


# ---- mixing -----------------------------------------------------------------------------------


def test_streamed_mix_equals_the_one_shot_mix(loop_src: Path, long_src: Path, clip: Path) -> None:
    total = 60.0
    tracks = [
        AudioTrack(
            loop_src,
            start=1.0,
            trim_start=0.4,
            loop=True,
            volume=0.5,
            fade_in=1,
            fade_out=2,
            end=50.0,
        ),
        AudioTrack(long_src, start=30.0, trim_start=2.2, volume=0.4, fade_in=0.5),
        AudioTrack(clip, start=-0.5, duration=1.2, volume=0.3),  # starts before the movie
    ]
    expected = np.zeros((round(total * RATE), 2))
    for track in tracks:
        _place(expected, _reference(Path(track.path)), track)
    assert np.abs(expected).max() < 0.98  # no limiting in this case

    block = round(0.37 * RATE)
    blocks = list(mix_blocks(tracks, total, block_seconds=0.37))
    assert all(len(b) == block for b in blocks[:-1]) and 0 < len(blocks[-1]) <= block
    streamed = np.concatenate(blocks)
    assert streamed.shape == expected.shape and streamed.dtype == np.float32
    _assert_same_mix(streamed, expected, tracks)
    np.testing.assert_array_equal(mix(tracks, total), streamed)  # other block size, same samples


def test_mix_from_37_3_equals_the_tail_of_the_full_mix(
    loop_src: Path, long_src: Path, clip: Path
) -> None:
    total, start = 45.0, 37.3
    click = np.full((round(0.01 * RATE), 2), 0.9, np.float32)
    tracks = [
        AudioTrack(loop_src, start=1.0, trim_start=0.4, loop=True, fade_out=3.0),
        AudioTrack(long_src, start=30.0, trim_start=2.2),
        AudioTrack(clip, start=36.9, loop=True, trim_start=0.3),
        # A loud click just before `start`: the limiter's hold keeps the gain down at `start`,
        # which a mix that did not look back before its start would get wrong.
        Track(click, start=start - 0.03),
    ]
    files = [t for t in tracks if isinstance(t, AudioTrack)]
    mixer = Mixer(tracks, total, block_seconds=0.25)
    full = _concat(mixer.blocks())
    tail = _concat(mixer.blocks(start))
    s0 = round(start * RATE)
    assert len(tail) == len(full) - s0
    window = full[s0 : s0 + RATE // 100]
    assert np.abs(window).max() < 0.9 * 0.98  # the gain is down right after the start...
    assert np.abs(full[s0 + RATE // 2 : s0 + RATE]).max() == pytest.approx(0.98, abs=1e-3)
    # ...and the tail is the same, sample for sample.
    _assert_same_mix(tail, full[s0:], [replace(t, start=t.start - start) for t in files])


def test_limiter_burst_across_a_block_boundary_stays_smooth() -> None:
    base = np.full((2 * RATE, 2), 0.6, np.float32)
    burst = np.full((round(0.02 * RATE), 2), 0.6, np.float32)
    tracks = [Track(base), Track(burst, start=0.99)]  # 1.2 from 0.99 s to 1.01 s
    raw = base.copy()
    raw[round(0.99 * RATE) : round(1.01 * RATE)] += 0.6
    one_shot = mix(tracks, 2.0)
    attack = round(0.005 * RATE)
    # Boundaries: at the burst's centre; inside the gain ramp before it; every 149 samples
    # (shorter than the limiter's look-ahead, so most pushes output nothing).
    for block_seconds in (0.5, 0.9896, 149 / RATE):
        out = _concat(mix_blocks(tracks, 2.0, block_seconds=block_seconds))
        assert np.abs(out).max() <= 0.98 + 1e-6
        gain = out[:, 0] / raw[:, 0]
        assert gain.min() == pytest.approx(0.98 / 1.2, abs=1e-4)
        # A linear ramp over the attack, never a step.
        assert np.abs(np.diff(gain)).max() <= (1 - 0.98 / 1.2) / attack + 1e-5
        np.testing.assert_allclose(out, one_shot, atol=1e-6)


def test_memory_does_not_grow_with_the_movie(loop_src: Path, long_src: Path) -> None:
    def peak_while_mixing(minutes: int) -> tuple[int, int]:
        tracks = [
            AudioTrack(loop_src, loop=True, volume=0.8, fade_in=2, fade_out=3),
            AudioTrack(long_src, start=5.0, volume=0.7),
        ]
        tracemalloc.start()
        try:
            samples = 0
            for block in mix_blocks(tracks, minutes * 60.0):
                samples += len(block)
            return tracemalloc.get_traced_memory()[1], samples
        finally:
            tracemalloc.stop()

    peak_1, n_1 = peak_while_mixing(1)
    peak_10, n_10 = peak_while_mixing(10)
    assert (n_1, n_10) == (60 * RATE, 600 * RATE)
    # The whole 10-minute mix would be 230 MB; streaming holds a few blocks.
    assert peak_10 < 16_000_000
    assert peak_10 <= peak_1 * 1.1


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_decoders_are_open_only_while_their_track_plays(loop_src: Path, long_src: Path) -> None:
    tracks = [AudioTrack(loop_src, duration=1.0), AudioTrack(long_src, start=2.0, duration=1.0)]
    before = len(os.listdir("/proc/self/fd"))
    open_files = [
        len(os.listdir("/proc/self/fd")) - before
        for _ in mix_blocks(tracks, 4.0, block_seconds=0.25)
    ]
    # Blocks of 0.25 s; block k is handed out once block k + 1 is mixed (the limiter looks 5 ms
    # ahead). The first decoder opens for block 0 and closes after block 3 (0-1 s), the second
    # is open while blocks 8-11 are mixed.
    assert open_files == [1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_a_source_that_cannot_be_decoded_names_the_file(tmp_path: Path, rotated_clip: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"this is not audio" * 100)
    with pytest.raises(MediaError) as caught:
        _concat(mix_blocks([AudioTrack(broken, start=1.0)], 2.0))
    assert caught.value.source == str(broken)
    with pytest.raises(MediaError) as caught:
        _concat(mix_blocks([AudioTrack(rotated_clip)], 1.0))
    assert (caught.value.source, caught.value.reason) == (str(rotated_clip), "no_audio")


def test_empty_and_silent_tracks() -> None:
    quiet = Track(np.ones((RATE, 2), np.float32), volume=0.0)
    assert list(mix_blocks([], 0.0)) == []
    out = _concat(mix_blocks([quiet, Track(np.ones((RATE, 2), np.float32), start=5.0)], 2.0))
    np.testing.assert_array_equal(out, np.zeros((2 * RATE, 2), np.float32))
