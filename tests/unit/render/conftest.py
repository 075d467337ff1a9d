"""Render tests paint real QImages on Qt's offscreen platform; media are real PNG files.

`PillowStills` loads stills with Pillow (independently of app/media). `SolidColourVideoDouble`
is a test double for video, used only by the compositor's unit tests: each frame is a solid
colour that encodes the source time asked for, so tests can read back which time was requested.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from app.media.errors import MediaError
from app.media.picture import Picture
from app.render.fonts import ensure_qt
from app.script.sources import Source


@pytest.fixture(scope="session", autouse=True)
def qt_app() -> None:
    ensure_qt()


def video_colour(source_time: float) -> tuple[int, int, int]:
    """The colour of the double's frame at `source_time` (0.1 s resolution, up to 25.5 s)."""
    return (round(source_time * 10) % 256, 200, 50)


class SolidColourVideoDouble:
    """A MediaProvider: stills from PNG files via Pillow, video as solid colours per time.

    `durations` maps a src file name to its video length (None = unknown); `calls` records
    every (file name, source_time) asked for; names in `broken` raise MediaError.
    """

    def __init__(
        self,
        durations: dict[str, float | None] | None = None,
        broken: set[str] | None = None,
        size: tuple[int, int] = (320, 180),
    ) -> None:
        self.durations = durations or {}
        self.broken = broken or set()
        self.size = size
        self.calls: list[tuple[str, float]] = []
        self.still_loads = 0

    def _name(self, source: Source) -> str:
        assert source.path is not None
        if source.path.name in self.broken:
            raise MediaError(str(source.path), "not_media", "The file is not a picture or video")
        return source.path.name

    def still(self, source: Source) -> Picture:
        self._name(source)
        assert source.path is not None
        self.still_loads += 1
        try:
            with Image.open(source.path) as image:
                return Picture(np.ascontiguousarray(np.asarray(image.convert("RGBA"))))
        except FileNotFoundError:
            raise MediaError(str(source.path), "not_found", "File not found") from None

    def video_frame(self, source: Source, source_time: float) -> Picture:
        name = self._name(source)
        self.calls.append((name, source_time))
        w, h = self.size
        pixels = np.empty((h, w, 4), dtype=np.uint8)
        pixels[...] = (*video_colour(source_time), 255)
        return Picture(pixels)

    def video_duration(self, source: Source) -> float | None:
        return self.durations.get(self._name(source), 10.0)


@pytest.fixture
def make_png(tmp_path: Path) -> Callable[..., str]:
    """Write an RGBA PNG into tmp_path; returns its file name (a src relative to tmp_path)."""

    def make(name: str, pixels: npt.NDArray[np.uint8]) -> str:
        if pixels.shape[2] == 3:
            alpha = np.full((*pixels.shape[:2], 1), 255, dtype=np.uint8)
            pixels = np.concatenate([pixels, alpha], axis=2)
        Image.fromarray(pixels.astype(np.uint8), "RGBA").save(tmp_path / name)
        return name

    return make


@pytest.fixture
def video_double() -> type[SolidColourVideoDouble]:
    """The media test double's class, to build with per-test durations and broken files."""
    return SolidColourVideoDouble
