"""Benchmark media, generated locally (nothing downloaded)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from app.media.encode import Mp4Writer


def moving_clip(
    path: Path,
    seconds: float,
    width: int = 1920,
    height: int = 1080,
    fps: int = 30,
    gop: int = 15,
    audio: bool = True,
) -> Path:
    """Footage-like content: drifting gradients, a moving disc and mild grain (so the encoder
    and decoder do real work), with a tone when `audio`."""
    if path.exists():
        return path
    frames = int(seconds * fps)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(1)
    grain = rng.integers(0, 12, size=(height, width), dtype=np.uint8)
    with Mp4Writer(path, width, height, fps, "medium", audio=audio, gop=gop) as out:
        for i in range(frames):
            phase = i / fps
            r = (110 + 70 * np.sin(xs / 240 + phase)).astype(np.uint8)
            g = (100 + 60 * np.sin(ys / 180 - phase * 0.7)).astype(np.uint8)
            b = (120 + 50 * np.sin((xs + ys) / 300 + phase * 0.4)).astype(np.uint8)
            frame = np.stack([r, g, b], axis=2)
            frame += np.roll(grain, i * 7, axis=1)[:, :, None]
            cx = int(width * (0.5 + 0.35 * math.sin(phase)))
            cy = int(height * (0.5 + 0.3 * math.cos(phase * 1.3)))
            y0, y1 = max(0, cy - 90), min(height, cy + 90)
            x0, x1 = max(0, cx - 90), min(width, cx + 90)
            frame[y0:y1, x0:x1] = (240, 235, 220)
            out.write_frame(frame)
        if audio:
            t = np.arange(int(seconds * 48000)) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
            out.write_audio(np.stack([tone, tone], axis=1))
    return path


def captioned_clip_script(clip: Path) -> dict:
    """The preview and player benchmarks' movie: one 12 s 1920×1080 30 fps scene, `clip`
    covering it under a lower-third caption."""
    return {
        "width": 1920,
        "height": 1080,
        "fps": 30,
        "scenes": [
            {
                "duration": 12,
                "background": "#000000",
                "elements": [
                    {"type": "video", "src": str(clip), "fit": "cover"},
                    {
                        "type": "text",
                        "text": "Lower third caption",
                        "font_size": 48,
                        "position": "bottom-left",
                        "background_color": "#000000AA",
                    },
                ],
            }
        ],
    }
