"""load_audio gives 48 kHz stereo at the source's level; mix places, shapes and limits tracks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from app.media.audio import Track, limit, load_audio, mix
from app.media.errors import MediaError
from tests.unit.media.conftest import TONE_AMPLITUDE, TONE_HZ

RATE = 48000


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * RATE / len(x))


def test_video_audio_resampled_to_48k_stereo(clip: Path) -> None:
    samples = load_audio(clip)
    assert samples.dtype == np.float32 and samples.ndim == 2 and samples.shape[1] == 2
    assert len(samples) / RATE == pytest.approx(2.0, abs=0.03)
    middle = samples[RATE // 4 : RATE + RATE // 4]
    assert _rms(middle[:, 0]) == pytest.approx(TONE_AMPLITUDE / np.sqrt(2), rel=0.05)
    assert _dominant_hz(middle[:, 1]) == pytest.approx(TONE_HZ, abs=2)


def test_mono_source_plays_at_full_level_on_both_channels(tone_file: Path) -> None:
    samples = load_audio(tone_file)
    assert samples.shape[1] == 2
    assert len(samples) / RATE == pytest.approx(1.5, abs=0.03)
    np.testing.assert_array_equal(samples[:, 0], samples[:, 1])
    assert _rms(samples[RATE // 4 : RATE, 0]) == pytest.approx(
        TONE_AMPLITUDE / np.sqrt(2), rel=0.05
    )


def test_start_and_duration(clip: Path) -> None:
    full = load_audio(clip)
    part = load_audio(clip, start=0.5, duration=0.25)
    assert len(part) == RATE // 4
    # Same samples as the full decode at 0.5 s (phase of the sine included).
    offset = RATE // 2
    assert np.abs(part[1000:2000] - full[offset + 1000 : offset + 2000]).max() < 0.02


def test_no_audio(rotated_clip: Path) -> None:
    with pytest.raises(MediaError) as caught:
        load_audio(rotated_clip)
    assert caught.value.reason == "no_audio"


# ---- mixing ----------------------------------------------------------------------------------


def _const(seconds: float, value: float = 0.5) -> np.ndarray:
    return np.full((round(seconds * RATE), 2), value, np.float32)


def _sine(seconds: float, hz: float, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    x = (amplitude * np.sin(2 * np.pi * hz * t + phase)).astype(np.float32)
    return np.stack([x, x], axis=1)


def test_placement_and_volume() -> None:
    out = mix([Track(_const(1.0), start=0.5, volume=0.5)], total_seconds=2.0)
    assert out.shape == (2 * RATE, 2) and out.dtype == np.float32
    assert np.all(out[: RATE // 2] == 0)
    assert np.allclose(out[RATE // 2 : RATE + RATE // 2], 0.25)
    assert np.all(out[RATE + RATE // 2 :] == 0)


def test_trim_start_skips_the_beginning_of_the_source() -> None:
    source = np.repeat(np.linspace(0, 0.9, RATE, dtype=np.float32)[:, None], 2, axis=1)
    out = mix([Track(source, start=0.0, trim_start=0.5)], total_seconds=1.0)
    assert out[0, 0] == pytest.approx(source[RATE // 2, 0])
    assert np.all(out[RATE // 2 :] == 0)  # the rest of the source ran out


def test_loop_repeats_the_trimmed_source_until_the_end_cut() -> None:
    source = np.zeros((RATE, 2), np.float32)
    source[RATE // 2] = 0.5  # a click half a second into the source
    out = mix([Track(source, start=1.0, trim_start=0.25, loop=True, end=4.0)], total_seconds=5.0)
    clicks = np.flatnonzero(out[:, 0])
    # Trimmed source is 0.75 s long with the click at 0.25 s; repeats from 1.0 s until 4.0 s.
    expected = [round((1.0 + 0.25 + k * 0.75) * RATE) for k in range(4)]
    assert clicks.tolist() == expected


def test_duration_cuts_the_track() -> None:
    out = mix([Track(_const(3.0), start=0.0, duration=1.25)], total_seconds=3.0)
    assert np.allclose(out[: round(1.25 * RATE)], 0.5)
    assert np.all(out[round(1.25 * RATE) :] == 0)


def test_linear_fades() -> None:
    out = mix([Track(_const(2.0), start=0.0, fade_in=0.5, fade_out=1.0)], total_seconds=2.0)[:, 0]
    assert out[0] == pytest.approx(0.0, abs=1e-6)
    assert out[RATE // 4] == pytest.approx(0.25, abs=1e-3)  # half way through the fade-in
    assert out[RATE // 2 + 100] == pytest.approx(0.5, abs=1e-3)
    assert out[RATE + RATE // 2] == pytest.approx(0.25, abs=1e-3)  # half way through fade-out
    assert out[-1] < 0.001
    assert np.all(np.diff(out[: RATE // 2]) > 0)


def test_track_starting_before_the_movie_is_clipped_at_zero() -> None:
    source = np.repeat(np.linspace(0, 0.9, RATE, dtype=np.float32)[:, None], 2, axis=1)
    out = mix([Track(source, start=-0.5)], total_seconds=1.0)
    assert out[0, 0] == pytest.approx(source[RATE // 2, 0])


def test_two_full_scale_sines_stay_below_one_without_wrap_around() -> None:
    a = _sine(2.0, 440.0)
    out = mix([Track(a), Track(a.copy())], total_seconds=2.0)
    assert np.abs(out).max() <= 1.0
    # Limited, not clipped or wrapped: still a clean 440 Hz sine of the same shape and sign.
    steady = out[RATE // 2 : RATE + RATE // 2, 0]
    reference = a[RATE // 2 : RATE + RATE // 2, 0]
    correlation = np.corrcoef(steady, reference)[0, 1]
    assert correlation > 0.999
    assert (
        np.sign(steady[np.abs(reference) > 0.5]).tolist()
        == np.sign(reference[np.abs(reference) > 0.5]).tolist()
    )
    assert np.abs(steady).max() > 0.9  # turned down to the ceiling, not to silence


def test_limiter_gain_changes_smoothly() -> None:
    quiet, loud = _sine(1.0, 200.0, 0.3), _sine(1.0, 200.0, 1.0)
    burst = Track(loud, start=0.5, duration=0.2)
    out = mix([Track(quiet), burst, Track(loud.copy(), start=0.5, duration=0.2)], total_seconds=1)
    assert np.abs(out).max() <= 0.98 + 1e-6
    # No step in the waveform: sample-to-sample change stays within what the sines allow.
    max_step = 2 * np.pi * 200 / RATE * 2.3
    assert np.abs(np.diff(out[:, 0])).max() < max_step
    # Before the burst (minus the look-ahead) the quiet sine is untouched.
    np.testing.assert_allclose(out[: RATE // 2 - 400, 0], quiet[: RATE // 2 - 400, 0], atol=1e-6)


def test_limit_leaves_quiet_audio_alone() -> None:
    x = _sine(0.5, 300.0, 0.9)
    y = x.copy()
    limit(y)
    np.testing.assert_array_equal(x, y)


def test_ten_minute_mix_is_quick() -> None:
    minutes = 10
    music = _sine(30.0, 220.0, 0.9)
    voice = _sine(7.0, 330.0, 0.9)
    tracks = [Track(music, loop=True, fade_in=2, fade_out=3, volume=0.8)]
    tracks += [Track(voice, start=s) for s in range(0, minutes * 60, 20)]
    began = time.perf_counter()
    out = mix(tracks, total_seconds=minutes * 60)
    elapsed = time.perf_counter() - began
    assert out.shape == (minutes * 60 * RATE, 2)
    assert np.abs(out).max() <= 0.98 + 1e-6
    assert elapsed < 15.0, f"mixing 10 minutes took {elapsed:.1f} s"
