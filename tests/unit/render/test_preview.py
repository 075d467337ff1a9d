"""The preview source: the render's picture, cached within its bound, prefetched for playback."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from app.render.compositor import Compositor, frame_to_rgb
from app.render.media_provider import MediaFiles
from app.render.preview import PreviewSource
from app.script.model import Movie


def movie(tmp_path: Path, broken: bool = False) -> Movie:
    picture = tmp_path / "p.png"
    Image.new("RGBA", (64, 32), (250, 120, 10, 255)).save(picture)
    src = str(tmp_path / "missing.png") if broken else str(picture)
    return Movie.model_validate(
        {
            "width": 320,
            "height": 180,
            "fps": 25,
            "scenes": [
                {
                    "duration": 2,
                    "background": "#102030",
                    "elements": [
                        {
                            "type": "image",
                            "src": src,
                            "width": 64,
                            "height": 32,
                            "animation": "zoom-in",
                        },
                        {
                            "type": "text",
                            "text": "Preview",
                            "font_size": 30,
                            "position": "top-left",
                        },
                    ],
                },
                {
                    "duration": 2,
                    "background": "#503010",
                    "transition": {"type": "crossfade", "duration": 1},
                },
            ],
        }
    )


def test_preview_frame_is_the_renderers_picture_at_that_time(tmp_path: Path) -> None:
    m = movie(tmp_path)
    source = PreviewSource(m, tmp_path)
    try:
        for t in (0.0, 1.24, 2.5):
            preview = frame_to_rgb(source.frame(t, 0.5))
            with MediaFiles() as files:
                rendered = frame_to_rgb(
                    Compositor(m, files, tmp_path).render_frame(source.frame_index(t) / m.fps, 0.5)
                )
            assert np.array_equal(preview, rendered), t
    finally:
        source.close()


def test_frames_are_cached_within_the_byte_bound(tmp_path: Path) -> None:
    source = PreviewSource(movie(tmp_path), tmp_path, cache_mb=0.5)  # 320x180x4 = 225 KB a frame
    try:
        first = source.frame_at_index(3, 1.0)
        assert source.frame_at_index(3, 1.0) is first  # a cache hit, not a new render
        for index in range(20):
            source.frame_at_index(index, 1.0)
            assert source.cache_bytes <= source.max_bytes
        assert not source.cached(3, 1.0)  # evicted, least recently used first
        assert source.cached(19, 1.0)
    finally:
        source.close()


def test_an_edit_drops_cached_frames(tmp_path: Path) -> None:
    m = movie(tmp_path)
    source = PreviewSource(m, tmp_path)
    try:
        before = frame_to_rgb(source.frame(0.1, 0.5))
        edited = m.model_copy(deep=True)
        edited.scenes[0].background = "#FFFFFF"
        source.set_movie(edited)
        after = frame_to_rgb(source.frame(0.1, 0.5))
        assert not np.array_equal(before, after)
        assert after[-2, -2].tolist() == [255, 255, 255]
    finally:
        source.close()


def test_broken_media_draws_a_placeholder_and_is_reported_not_raised(tmp_path: Path) -> None:
    reported = []
    source = PreviewSource(movie(tmp_path, broken=True), tmp_path, on_error=reported.append)
    try:
        image = source.frame(0.5, 0.5)
        assert image.width() == 160
        assert [e.path for e in source.errors] == ["scenes.0.elements.0"]
        assert reported and "missing.png" in reported[0].src
    finally:
        source.close()


def test_prefetch_renders_ahead_of_the_playhead(tmp_path: Path) -> None:
    source = PreviewSource(movie(tmp_path), tmp_path)
    try:
        source.start_prefetch(1.0, 0.5, ahead=10)
        deadline = time.monotonic() + 10
        first = source.frame_index(1.0)
        while time.monotonic() < deadline and not source.cached(first + 10, 0.5):
            time.sleep(0.02)
        assert all(source.cached(i, 0.5) for i in range(first, first + 11))
        source.advance(3.0)
        later = source.frame_index(3.0)
        while time.monotonic() < deadline and not source.cached(later + 5, 0.5):
            time.sleep(0.02)
        assert source.cached(later + 5, 0.5)
        source.stop_prefetch()
    finally:
        source.close()
