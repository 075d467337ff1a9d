"""MediaFiles, the compositor's provider over app/media, with a real PNG and a real H.264 clip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from app.render.compositor import Compositor
from app.render.media_provider import MediaFiles
from app.script.model import Movie
from app.script.sources import resolve_src

FPS = 10


def colour(i: int) -> tuple[int, int, int]:
    """Frame i's colour: distinct per frame and robust to H.264."""
    return (i * 20 + 10, 200 - i * 15, 60)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 1 s, 10 fps, 160 × 90 clip whose frame i is solid `colour(i)`."""
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.options = {"crf": "10", "preset": "ultrafast"}
        for i in range(10):
            pixels = np.empty((90, 160, 3), np.uint8)
            pixels[:] = colour(i)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_compositor_shows_the_frame_of_the_source_time(tmp_path: Path, clip: Path) -> None:
    movie = Movie.model_validate(
        {
            "width": 320,
            "height": 180,
            "scenes": [
                {
                    "duration": 3,
                    "elements": [
                        {"type": "video", "src": "clip.mp4", "trim_start": 0.2, "duration": 3}
                    ],
                }
            ],
        }
    )
    with MediaFiles() as media:
        comp = Compositor(movie, media, tmp_path, strict=True)
        for t, index in ((0.0, 2), (0.35, 5), (0.75, 9), (2.5, 9)):  # held after the end
            pixel = comp.render_rgb(t)[90, 160].astype(int)
            assert np.all(np.abs(pixel - colour(index)) <= 6), (t, pixel)


def test_stills_come_from_files(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 2), (10, 20, 30, 255)).save(tmp_path / "a.png")
    media = MediaFiles()
    picture = media.still(resolve_src("a.png", tmp_path))
    assert (picture.width, picture.height) == (4, 2)
    assert tuple(picture.pixels[0, 0]) == (10, 20, 30, 255)


def test_missing_files_and_urls_without_a_cache_are_element_errors(tmp_path: Path) -> None:
    movie = Movie.model_validate(
        {
            "width": 320,
            "height": 180,
            "scenes": [
                {
                    "duration": 1,
                    "elements": [
                        {"type": "video", "src": "nowhere.mp4"},
                        {"type": "image", "src": "https://example.invalid/a.png"},
                    ],
                }
            ],
        }
    )
    comp = Compositor(movie, MediaFiles(), tmp_path)
    comp.render_frame(0.0)
    assert [(e.path, e.reason) for e in comp.errors] == [
        ("scenes.0.elements.0", "not_found"),
        ("scenes.0.elements.1", "network"),
    ]
