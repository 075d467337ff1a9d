"""Real media for render tests, generated here: clips whose frames tell their index, tones,
pictures, and broken files of every kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.examples import write_wav
from app.media.encode import Mp4Writer

SAMPLE_RATE = 48000


def index_colour(i: int) -> tuple[int, int, int]:
    """A colour that survives H.264 and tells a frame index (0..63)."""
    return ((i % 8) * 32 + 16, (i // 8) * 32 + 16, 128)


def colour_index(rgb: np.ndarray) -> int:
    r, g = int(rgb[0]), int(rgb[1])
    return round((g - 16) / 32) * 8 + round((r - 16) / 32)


def write_index_clip(
    path: Path,
    frames: int,
    fps: int = 10,
    size: tuple[int, int] = (160, 90),
    tone: float | None = None,
) -> Path:
    """A clip whose frame n is a solid `index_colour(n)`; optional 440 Hz tone at `tone` level."""
    width, height = size
    with Mp4Writer(path, width, height, fps, "low", audio=tone is not None, gop=5) as out:
        for i in range(frames):
            out.write_frame(np.full((height, width, 3), index_colour(i), np.uint8))
        if tone is not None:
            n = int(frames / fps * SAMPLE_RATE)
            wave = (tone * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
            out.write_audio(np.stack([wave, wave], axis=1))
    return path


def write_tone(path: Path, seconds: float, level: float, freq: float = 440.0) -> Path:
    n = int(seconds * SAMPLE_RATE)
    wave = level * np.sin(2 * np.pi * freq * np.arange(n) / SAMPLE_RATE)
    write_wav(path, np.stack([wave, wave], axis=1).astype(np.float32))
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    return folder


@pytest.fixture
def write_script(tmp_path: Path):
    def write(movie: dict[str, Any], name: str = "movie.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(movie, indent=2), "utf-8")
        return path

    return write


def solid_png(path: Path, colour: tuple[int, int, int, int], size: tuple[int, int]) -> Path:
    Image.new("RGBA", size, colour).save(path)
    return path


@pytest.fixture
def http_server():
    """A loopback HTTP server: `/missing*` → 404, `/stall*` → never answers in time."""
    import http.server
    import threading
    import time

    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/stall"):
                stop.wait(10)
                return
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        time.sleep(0.05)
        server.shutdown()
        server.server_close()
