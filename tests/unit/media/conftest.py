"""Real media for the media tests, generated with PyAV and Pillow (no files checked in).

Video frames carry their index as a solid colour (see `frame_colour`/`index_of`) so a test can
tell exactly which frame a decoder returned even after lossy H.264.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

FPS = 30
FRAMES = 60  # 2 s
WIDTH, HEIGHT = 320, 240
TONE_HZ = 1000.0
TONE_AMPLITUDE = 0.5


def frame_colour(i: int) -> tuple[int, int, int]:
    """A colour that survives H.264 and tells the frame index (up to 64 frames)."""
    return ((i % 8) * 32 + 16, (i // 8) * 32 + 16, 128)


def index_of(pixels: np.ndarray) -> int:
    """The frame index a decoded picture shows (from its centre colour)."""
    h, w = pixels.shape[:2]
    r, g = pixels[h // 2, w // 2, :2].astype(int)
    return round((g - 16) / 32) * 8 + round((r - 16) / 32)


def write_test_video(
    path: Path,
    frames: int = FRAMES,
    fps: int = FPS,
    size: tuple[int, int] = (WIDTH, HEIGHT),
    gop: int = 10,
    audio_rate: int | None = 44100,
    rotation: float | None = None,
    marker: bool = False,
) -> Path:
    """An MP4 whose frame i is `frame_colour(i)` (plus a white top-left marker if asked),
    with a stereo 1 kHz sine at `audio_rate` unless None."""
    w, h = size
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.gop_size = gop
        video.options = {"crf": "18", "preset": "ultrafast", "bframes": "2", "sc_threshold": "0"}
        if rotation is not None:
            video.set_display_rotation(rotation)
        sound = None
        if audio_rate is not None:
            sound = out.add_stream("aac", rate=audio_rate, layout="stereo")
        for i in range(frames):
            pixels = np.empty((h, w, 3), np.uint8)
            pixels[:] = frame_colour(i)
            if marker:
                pixels[: h // 4, : w // 4] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None and audio_rate is not None:
            n = round(frames / fps * audio_rate)
            t = np.arange(n) / audio_rate
            tone = (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
            for start in range(0, n, 4096):
                part = np.ascontiguousarray(np.stack([tone[start : start + 4096]] * 2))
                af = av.AudioFrame.from_ndarray(part, format="fltp", layout="stereo")
                af.sample_rate = audio_rate
                af.pts = start
                af.time_base = Fraction(1, audio_rate)
                out.mux(sound.encode(af))
            out.mux(sound.encode(None))
    return path


def write_tone(path: Path, seconds: float, rate: int, layout: str = "mono") -> Path:
    """An audio-only M4A with a 1 kHz sine at `TONE_AMPLITUDE`."""
    channels = 1 if layout == "mono" else 2
    with av.open(str(path), "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=rate, layout=layout)
        n = round(seconds * rate)
        tone = (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * np.arange(n) / rate)).astype(
            np.float32
        )
        for start in range(0, n, 4096):
            part = np.ascontiguousarray(np.stack([tone[start : start + 4096]] * channels))
            af = av.AudioFrame.from_ndarray(part, format="fltp", layout=layout)
            af.sample_rate = rate
            af.pts = start
            af.time_base = Fraction(1, rate)
            out.mux(sound.encode(af))
        out.mux(sound.encode(None))
    return path


@pytest.fixture(scope="session")
def make_video() -> Callable[..., Path]:
    """`write_test_video`, for tests that need a clip of their own."""
    return write_test_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """2 s, 320x240, 30 fps H.264 (GOP 10, B-frames) + 44.1 kHz stereo AAC 1 kHz sine."""
    return write_test_video(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def rotated_clip(media_dir: Path) -> Path:
    """Like `clip` (no audio, 10 frames) with a 90° display matrix and a top-left marker."""
    return write_test_video(
        media_dir / "rotated.mp4", frames=10, audio_rate=None, rotation=90, marker=True
    )


@pytest.fixture(scope="session")
def tone_file(media_dir: Path) -> Path:
    """1.5 s mono 1 kHz sine, 44.1 kHz AAC, no video."""
    return write_tone(media_dir / "tone.m4a", 1.5, 44100)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run with the process umask set to `mask` (file modes are then predictable)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def decode_reference(path: Path, rate: int = 48000) -> np.ndarray:
    """A file's whole audio decoded and resampled in one continuous pass with plain PyAV: the
    yardstick for the streaming decoder (mono is copied to both channels)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        mono = stream.codec_context.channels == 1
        resampler = av.AudioResampler(format="flt", layout="mono" if mono else "stereo", rate=rate)
        parts = []
        for frame in container.decode(stream):
            parts += [
                f.to_ndarray().reshape(-1, 1 if mono else 2) for f in resampler.resample(frame)
            ]
        parts += [f.to_ndarray().reshape(-1, 1 if mono else 2) for f in resampler.resample(None)]
    samples = np.concatenate(parts).astype(np.float32)
    return np.repeat(samples, 2, axis=1) if mono else samples
