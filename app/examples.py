"""The bundled example scripts and the sample media they use, generated here (nothing is
downloaded): a chord progression (WAV), three landscape "photos" (JPEG), a logo with
transparency (PNG) and a short clip with sound (MP4).

    reelsmith examples [DIR]     copy the examples to DIR (default: the user data folder)
                                 and generate their media beside them
"""

from __future__ import annotations

import math
import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from app.media.encode import Mp4Writer
from app.paths import data_dir, resources_dir

SAMPLE_RATE = 48000
MUSIC_SECONDS = 12.0
CLIP_SECONDS = 8.0


def examples_source() -> Path:
    return resources_dir() / "examples"


def default_examples_dir() -> Path:
    return data_dir() / "examples"


def _chords(seconds: float) -> npt.NDArray[np.float32]:
    """A soft I–V–vi–IV progression in C, two seconds a chord, as float32 stereo."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    roots = [261.63, 392.00, 440.00, 349.23]  # C G A F
    out = np.zeros(n)
    chord_len = 2.0
    for k in range(math.ceil(seconds / chord_len)):
        start, end = int(k * chord_len * SAMPLE_RATE), int((k + 1) * chord_len * SAMPLE_RATE)
        seg = t[start:end] - k * chord_len
        envelope = np.minimum(1.0, seg / 0.05) * np.exp(-seg * 0.9)
        root = roots[k % len(roots)]
        minor = k % len(roots) == 2
        for ratio in (1.0, 1.2 if minor else 1.25, 1.5, 2.0):
            out[start:end] += np.sin(2 * np.pi * root * ratio * seg) * envelope * 0.12
    left = out
    right = np.roll(out, 240)  # 5 ms: a little width
    return np.stack([left, right], axis=1).astype(np.float32)


def write_wav(path: Path, samples: npt.NDArray[np.float32]) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


def _photo(path: Path, sky: tuple[str, str], sun: tuple[float, float], hills: str) -> None:
    """A 1600×1000 landscape: a sky gradient, a sun, two rows of hills."""
    width, height = 1600, 1000
    top = np.array(Image.new("RGB", (1, 1), sky[0]).getpixel((0, 0)), dtype=np.float64)
    bottom = np.array(Image.new("RGB", (1, 1), sky[1]).getpixel((0, 0)), dtype=np.float64)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    cx, cy = sun[0] * width, sun[1] * height
    draw.ellipse((cx - 90, cy - 90, cx + 90, cy + 90), fill="#FFE9A8")
    image = image.filter(ImageFilter.GaussianBlur(2))
    draw = ImageDraw.Draw(image)
    for row, (base, amp, shade) in enumerate(((0.72, 60, 0.8), (0.82, 45, 1.0))):
        points: list[tuple[float, float]] = [(0, height)]
        for x in range(0, width + 40, 40):
            y = base * height + amp * math.sin(x / 170 + row * 2.1) + 20 * math.sin(x / 53)
            points.append((x, y))
        points.append((width, height))
        colour = Image.new("RGB", (1, 1), hills).getpixel((0, 0))
        assert isinstance(colour, tuple)
        draw.polygon(points, fill=tuple(int(c * shade) for c in colour))
    image.save(path, quality=90)


def _logo(path: Path) -> None:
    """A round badge on a transparent background."""
    size = 512
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, size - 16, size - 16), fill=(31, 78, 121, 255))
    draw.ellipse((96, 96, size - 96, size - 96), outline=(242, 170, 76, 255), width=28)
    draw.polygon([(210, 170), (210, 342), (350, 256)], fill=(255, 255, 255, 255))
    image.save(path)


def _clip(path: Path, seconds: float) -> None:
    """A 1280×720 clip: a drifting gradient with a bouncing disc, and a gentle tone."""
    width, height, fps = 1280, 720, 30
    frames = int(seconds * fps)
    ys, xs = np.mgrid[0:height, 0:width]
    with Mp4Writer(path, width, height, fps, "medium", audio=True, gop=15) as writer:
        for i in range(frames):
            phase = i / frames
            r = (80 + 60 * np.sin(xs / 200 + phase * 6)).astype(np.uint8)
            g = (90 + 50 * np.sin(ys / 150 - phase * 4)).astype(np.uint8)
            b = np.full((height, width), 140, np.uint8)
            frame = np.stack([r, g, b], axis=2)
            cx = int(width * (0.2 + 0.6 * phase))
            cy = int(height * (0.5 + 0.25 * math.sin(phase * math.pi * 4)))
            disc = (xs - cx) ** 2 + (ys - cy) ** 2 < 70**2
            frame[disc] = (250, 240, 220)
            writer.write_frame(frame)
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
        writer.write_audio(np.stack([tone, tone], axis=1).astype(np.float32))


def generate_media(media_dir: Path) -> list[Path]:
    """Write every sample media file into `media_dir` (skipping files already there)."""
    media_dir.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[Path], None]] = {
        "music.wav": lambda p: write_wav(p, _chords(MUSIC_SECONDS)),
        "photo-1.jpg": lambda p: _photo(p, ("#F6B38E", "#FCE3C5"), (0.7, 0.55), "#3E5A4A"),
        "photo-2.jpg": lambda p: _photo(p, ("#4A90D9", "#BFE3F7"), (0.5, 0.2), "#4F7A3A"),
        "photo-3.jpg": lambda p: _photo(p, ("#2C2A55", "#E0775A"), (0.3, 0.62), "#2B2F3A"),
        "logo.png": _logo,
        "clip.mp4": lambda p: _clip(p, CLIP_SECONDS),
    }
    written = []
    for name, make in makers.items():
        target = media_dir / name
        if target.exists() and target.stat().st_size > 0:
            continue
        partial = target.with_name(f".{name}.part{target.suffix}")
        make(partial)
        partial.replace(target)
        written.append(target)
    return written


def install_examples(target: Path | None = None) -> Path:
    """Copy the example scripts to `target` and generate their media; returns the folder."""
    target = target or default_examples_dir()
    target.mkdir(parents=True, exist_ok=True)
    for script in sorted(examples_source().glob("*.json")):
        shutil.copyfile(script, target / script.name)
    generate_media(target / "media")
    return target
