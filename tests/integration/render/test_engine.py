"""Whole renders with real media: what comes out is what the script says, and failures are clean."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from app.media.audio import load_audio
from app.media.probe import probe
from app.render.compositor import Compositor, RenderError, frame_to_rgb
from app.render.engine import RenderCancelled, plan_segments, render_movie
from app.render.media_provider import MediaFiles
from app.script.model import Movie
from tests.integration.render.conftest import (
    colour_index,
    solid_png,
    write_index_clip,
    write_tone,
)

W, H, FPS = 160, 90, 10


def movie(scenes, **extra) -> Movie:
    return Movie.model_validate(
        {"width": W, "height": H, "fps": FPS, "quality": "low", "scenes": scenes, **extra}
    )


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def centre(frame: np.ndarray) -> np.ndarray:
    return frame[frame.shape[0] // 2, frame.shape[1] // 2].astype(int)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def test_output_has_the_asked_size_rate_length_and_an_audio_stream(tmp_path: Path) -> None:
    m = movie(
        [{"duration": 1.0, "background": "#FF0000"}, {"duration": 1.55, "background": "#0000FF"}]
    )
    out = tmp_path / "out.mp4"
    result = render_movie(m, out, jobs=1)
    info = probe(out)
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert result.frames == round(2.55 * FPS) == 26
    assert info.duration == pytest.approx(2.55, abs=1 / FPS)
    assert info.has_audio
    assert rms(load_audio(out)) < 1e-4  # a script without sound renders silence
    frames = frames_of(out)
    assert len(frames) == 26
    assert np.allclose(centre(frames[5]), (255, 0, 0), atol=12)
    assert np.allclose(centre(frames[15]), (0, 0, 255), atol=12)


def test_parallel_segments_give_the_same_frames_as_one_process(tmp_path: Path) -> None:
    assert plan_segments(130, 2) == [(0, 65), (65, 130)]
    assert plan_segments(50, 8) == [(0, 50)]
    scenes = [
        {
            "duration": 6.5,
            "background": "#204060",
            "elements": [{"type": "text", "text": "Hi", "animation": "zoom-in"}],
        },
        {
            "duration": 6.5,
            "background": "#602040",
            "transition": {"type": "crossfade", "duration": 1},
        },
    ]
    one = render_movie(movie(scenes), tmp_path / "one.mp4", jobs=1)
    two = render_movie(movie(scenes), tmp_path / "two.mp4", jobs=2)
    assert one.frames == two.frames == 130
    a, b = frames_of(one.path), frames_of(two.path)
    assert len(a) == len(b) == 130
    for k in (0, 64, 65, 70, 129):
        assert np.abs(a[k].astype(int) - b[k].astype(int)).mean() < 2.0, k


def test_video_frames_come_from_trim_start_and_the_last_frame_holds(
    tmp_path: Path, media: Path
) -> None:
    clip = write_index_clip(media / "clip.mp4", frames=20)  # 2 s at 10 fps
    m = movie(
        [
            {
                "duration": 3.0,
                "elements": [
                    {
                        "type": "video",
                        "src": str(clip),
                        "trim_start": 0.5,
                        "fit": "fill",
                        "muted": True,
                        "duration": 3.0,
                    }
                ],
            }
        ]
    )
    out = render_movie(m, tmp_path / "out.mp4", jobs=1).path
    frames = frames_of(out)
    assert colour_index(centre(frames[0])) == 5  # 0.5 s into the source
    assert colour_index(centre(frames[7])) == 12
    assert colour_index(centre(frames[25])) == 19  # past the source's end: its last frame


def test_crossfade_midpoint_is_a_blend_and_fade_passes_through_the_background(
    tmp_path: Path,
) -> None:
    m = movie(
        [
            {"duration": 2.0, "background": "#FF0000"},
            {
                "duration": 2.0,
                "background": "#0000FF",
                "transition": {"type": "crossfade", "duration": 1.0},
            },
            {
                "duration": 2.0,
                "background": "#00FF00",
                "transition": {"type": "fade", "duration": 1.0},
            },
        ]
    )
    frames = frames_of(render_movie(m, tmp_path / "out.mp4", jobs=1).path)
    r, _, b = centre(frames[25])  # 2.5 s: halfway through the crossfade
    assert 100 < r < 155 and 100 < b < 155
    assert np.allclose(centre(frames[45]), (0, 255, 0), atol=30)  # fade: via scene 2's colour


def test_audio_level_follows_volume_and_fades_and_mixing_never_clips(
    tmp_path: Path, media: Path
) -> None:
    tone = write_tone(media / "tone.wav", 4.0, 0.5)
    loud = write_tone(media / "loud.wav", 4.0, 1.0, freq=440.0)
    m = movie(
        [
            {
                "duration": 4.0,
                "elements": [
                    {"type": "audio", "src": str(tone), "volume": 0.5, "fade_in": 1.0},
                ],
            },
            {
                "duration": 2.0,
                "elements": [
                    {"type": "audio", "src": str(loud)},
                    {"type": "audio", "src": str(loud)},
                ],
            },
        ]
    )
    out = render_movie(m, tmp_path / "out.mp4", jobs=1).path
    sound = load_audio(out)
    rate = 48000
    steady = rms(sound[int(2.0 * rate) : int(3.0 * rate)])
    assert steady == pytest.approx(0.25 / np.sqrt(2), rel=0.1)  # 0.5 level × 0.5 volume
    early = rms(sound[int(0.2 * rate) : int(0.3 * rate)])
    assert early < steady * 0.4  # still fading in
    both = sound[int(4.2 * rate) : int(5.8 * rate)]
    assert np.max(np.abs(both)) <= 1.0
    assert rms(both) > 0.5  # loud, limited, not wrapped around into noise


def test_frame_command_picture_equals_the_rendered_frame(tmp_path: Path, media: Path) -> None:
    picture = solid_png(media / "p.png", (250, 200, 10, 255), (80, 40))
    m = movie(
        [
            {
                "duration": 2.0,
                "background": "#101820",
                "elements": [
                    {
                        "type": "image",
                        "src": str(picture),
                        "width": 80,
                        "height": 40,
                        "position": "top-left",
                        "animation": "fade-in",
                        "animation_duration": 1.0,
                    },
                    {
                        "type": "text",
                        "text": "Reelsmith",
                        "font_size": 20,
                        "position": "bottom-center",
                    },
                ],
            }
        ]
    )
    rendered = frames_of(render_movie(m, tmp_path / "out.mp4", jobs=1).path)[7]
    with MediaFiles() as files:
        single = frame_to_rgb(Compositor(m, files, strict=True).render_frame(0.7))
    assert np.abs(rendered.astype(int) - single.astype(int)).mean() < 3.0


@pytest.mark.parametrize(
    ("kind", "reason_words"),
    [
        ("missing", "does not exist"),
        ("empty", "empty"),
        ("text", ""),
        ("truncated", ""),
        ("not-image", ""),
    ],
)
def test_unreadable_media_fails_with_the_element_path_and_no_output(
    tmp_path: Path, media: Path, kind: str, reason_words: str
) -> None:
    target = media / ("bad.png" if kind == "not-image" else "bad.mp4")
    if kind == "empty":
        target.write_bytes(b"")
    elif kind == "text":
        target.write_text("this is not a video\n" * 50)
    elif kind == "truncated":
        full = write_index_clip(media / "full.mp4", frames=30)
        target.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif kind == "not-image":
        target.write_text("<html>not an image</html>")
    element_type = "image" if kind == "not-image" else "video"
    m = movie(
        [
            {"duration": 1.0},
            {
                "duration": 1.0,
                "elements": [
                    {"type": "text", "text": "ok"},
                    {"type": element_type, "src": str(target)},
                ],
            },
        ]
    )
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderError) as info:
        render_movie(m, out, jobs=2)
    assert info.value.path == "scenes.1.elements.1"
    assert info.value.src == str(target)
    assert reason_words in info.value.message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["media"]  # no temp folders left behind


def test_cancelling_leaves_nothing_and_no_worker_processes(tmp_path: Path) -> None:
    m = movie(
        [
            {
                "duration": 30.0,
                "background": "#336699",
                "elements": [{"type": "text", "text": "long", "animation": "zoom-in"}],
            }
        ]
    )
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        if fraction > 0.05:
            cancel.set()

    out = tmp_path / "out.mp4"
    with pytest.raises(RenderCancelled):
        render_movie(m, out, jobs=2, progress=progress, cancel=cancel)
    assert seen and max(seen) < 0.9
    assert not out.exists()
    assert not any(p.name.startswith(".reelsmith-render-") for p in tmp_path.iterdir())
    assert multiprocessing.active_children() == []


def test_progress_reaches_one_and_grows(tmp_path: Path) -> None:
    seen: list[float] = []
    render_movie(movie([{"duration": 1.0}]), tmp_path / "o.mp4", jobs=1, progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_media_errors_do_not_stop_a_url_render_from_naming_the_url(
    tmp_path: Path, http_server
) -> None:
    m = movie(
        [{"duration": 1.0, "elements": [{"type": "image", "src": f"{http_server}/missing.png"}]}]
    )
    with pytest.raises(RenderError) as info:
        render_movie(m, tmp_path / "o.mp4", jobs=1)
    assert info.value.path == "scenes.0.elements.0"
    assert "404" in info.value.message
    assert info.value.src.endswith("/missing.png")


def test_a_server_that_never_answers_times_out_with_the_element_path(
    tmp_path: Path, http_server
) -> None:
    from app.media.cache import MediaCache

    cache = MediaCache(tmp_path / "cache", 10**8, connect_timeout=0.5, read_timeout=0.5)
    stall = {"type": "video", "src": f"{http_server}/stall.mp4"}
    m = movie([{"duration": 1.0, "elements": [stall]}])
    with pytest.raises(RenderError) as info:
        render_movie(m, tmp_path / "o.mp4", jobs=1, cache=cache)
    assert info.value.path == "scenes.0.elements.0"
    assert info.value.reason == "timeout"
    assert not (tmp_path / "o.mp4").exists()
