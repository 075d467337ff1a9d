"""The compositor paints what the movie script says (spec §2–§3), checked on real pixels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PySide6.QtGui import QImage

from app.render.compositor import (
    FRAME_FORMAT,
    PLACEHOLDER_FILL,
    Compositor,
    ElementError,
    RenderError,
    canvas_size,
    fit_rect,
)
from app.script.model import Movie

W, H = 640, 360
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

Frame = npt.NDArray[np.uint8]


def movie(*scenes: dict[str, Any], width: int = W, height: int = H) -> Movie:
    return Movie.model_validate({"width": width, "height": height, "scenes": list(scenes)})


def solid(colour: tuple[int, int, int], w: int = 4, h: int = 4) -> npt.NDArray[np.uint8]:
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[...] = colour
    return pixels


class Scene:
    """Render helper bound to one test's media folder and provider."""

    def __init__(self, tmp_path: Path, media: Any) -> None:
        self.tmp_path = tmp_path
        self.media = media

    def compositor(self, m: Movie, **kwargs: Any) -> Compositor:
        return Compositor(m, self.media, self.tmp_path, **kwargs)

    def frame(self, m: Movie, t: float, scale: float = 1.0) -> Frame:
        return self.compositor(m).render_rgb(t, scale)


@pytest.fixture
def media(video_double: Any) -> Any:
    return video_double()


@pytest.fixture
def scene(tmp_path: Path, media: Any) -> Scene:
    return Scene(tmp_path, media)


def close(actual: Any, expected: tuple[int, ...], tolerance: int = 2) -> bool:
    return bool(np.all(np.abs(np.asarray(actual, dtype=int) - np.asarray(expected)) <= tolerance))


def ink_box(frame: Frame, background: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels that differ from the background (exclusive)."""
    mask = np.any(np.abs(frame.astype(int) - background) > 40, axis=2)
    ys, xs = np.nonzero(mask)
    assert xs.size, "nothing was drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# -- canvas, background, timing ------------------------------------------------------------------


def test_frame_is_premultiplied_argb_of_the_movie_size(scene: Scene) -> None:
    image = scene.compositor(movie({"duration": 1})).render_frame(0.0)
    assert isinstance(image, QImage)
    assert image.format() == FRAME_FORMAT
    assert (image.width(), image.height()) == (W, H)


@pytest.mark.parametrize(
    ("scale", "expected"),
    [(1.0, (1920, 1080)), (0.5, (960, 540)), (0.33, (634, 356)), (0.25, (480, 270))],
)
def test_canvas_size_is_rounded_and_even(scale: float, expected: tuple[int, int]) -> None:
    m = movie({"duration": 1}, width=1920, height=1080)
    assert canvas_size(m, scale) == expected
    assert all(side % 2 == 0 for side in canvas_size(m, scale))


def test_scene_background_colour(scene: Scene) -> None:
    frame = scene.frame(movie({"duration": 1, "background": "#336699"}), 0.5)
    assert close(frame[10, 10], (0x33, 0x66, 0x99), 0)
    assert close(frame[H - 1, W - 1], (0x33, 0x66, 0x99), 0)


def test_translucent_background_is_over_black(scene: Scene) -> None:
    frame = scene.frame(movie({"duration": 1, "background": "#FF000080"}), 0.5)
    assert close(frame[5, 5], (128, 0, 0), 1)


def test_default_background_is_black(scene: Scene) -> None:
    frame = scene.frame(movie({"duration": 1}), 0.5)
    assert close(frame[5, 5], (0, 0, 0), 0)


def test_scenes_play_in_order(scene: Scene) -> None:
    m = movie({"duration": 1, "background": "#FF0000"}, {"duration": 2, "background": "#0000FF"})
    comp = scene.compositor(m)
    assert close(comp.render_rgb(0.99)[0, 0], RED, 0)
    assert close(comp.render_rgb(1.0)[0, 0], BLUE, 0)
    assert close(comp.render_rgb(2.9)[0, 0], BLUE, 0)


def test_element_shows_only_in_its_window(scene: Scene, make_png: Callable[..., str]) -> None:
    src = make_png("white.png", solid(WHITE))
    element = {"type": "image", "src": src, "start": 1, "duration": 1, "fit": "fill"}
    comp = scene.compositor(movie({"duration": 3, "elements": [element]}))
    assert close(comp.render_rgb(0.5)[H // 2, W // 2], (0, 0, 0))
    assert close(comp.render_rgb(1.0)[H // 2, W // 2], WHITE)
    assert close(comp.render_rgb(1.9)[H // 2, W // 2], WHITE)
    assert close(comp.render_rgb(2.0)[H // 2, W // 2], (0, 0, 0))


def test_element_is_cut_at_its_scene_end(scene: Scene, make_png: Callable[..., str]) -> None:
    src = make_png("white.png", solid(WHITE))
    element = {"type": "image", "src": src, "start": 0.5, "duration": 10, "fit": "fill"}
    m = movie({"duration": 1, "elements": [element]}, {"duration": 1, "background": "#0000FF"})
    comp = scene.compositor(m)
    assert close(comp.render_rgb(0.9)[H // 2, W // 2], WHITE)
    assert close(comp.render_rgb(1.5)[H // 2, W // 2], BLUE)


def test_later_elements_draw_on_top(scene: Scene, make_png: Callable[..., str]) -> None:
    red = {"type": "image", "src": make_png("r.png", solid(RED)), "fit": "fill"}
    green = {
        "type": "image",
        "src": make_png("g.png", solid(GREEN)),
        "fit": "fill",
        "width": 100,
        "height": 100,
    }
    on_top = scene.frame(movie({"duration": 1, "elements": [red, green]}), 0)
    assert close(on_top[H // 2, W // 2], GREEN)
    assert close(on_top[10, 10], RED)
    below = scene.frame(movie({"duration": 1, "elements": [green, red]}), 0)
    assert close(below[H // 2, W // 2], RED)


# -- anchors and text ----------------------------------------------------------------------------


def boxed_text(position: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "text",
        "text": "Hello",
        "font_size": 40,
        "position": position,
        "background_color": "#FF0000",
        "padding": 10,
        **extra,
    }


def test_text_top_left_sits_on_the_default_safe_margin(scene: Scene) -> None:
    frame = scene.frame(movie({"duration": 1, "elements": [boxed_text("top-left")]}), 0)
    left, top, _right, bottom = ink_box(frame, (0, 0, 0))
    margin = 0.05 * H  # 5 % of the shorter side
    assert abs(left - margin) <= 1 and abs(top - margin) <= 1
    # The box is the text's bounds (one line of 1.2 × 40 px) plus 10 px padding each side.
    assert abs((bottom - top) - (48 + 20)) <= 1
    assert close(frame[top + 3, left + 3], RED)


def test_text_center_is_centred(scene: Scene) -> None:
    frame = scene.frame(movie({"duration": 1, "elements": [boxed_text("center")]}), 0)
    left, top, right, bottom = ink_box(frame, (0, 0, 0))
    assert abs((left + right) / 2 - W / 2) <= 1
    assert abs((top + bottom) / 2 - H / 2) <= 1


def test_text_bottom_right_respects_margin_and_offset(scene: Scene) -> None:
    element = boxed_text("bottom-right", margin=30, x=-5, y=4)
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    _, _, right, bottom = ink_box(frame, (0, 0, 0))
    assert abs(right - (W - 30 - 5)) <= 1
    assert abs(bottom - (H - 30 + 4)) <= 1


def test_text_glyphs_are_drawn_in_the_text_colour(scene: Scene) -> None:
    element = {"type": "text", "text": "HHHH", "font_size": 80, "color": "#00FF00"}
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    left, top, right, bottom = ink_box(frame, (0, 0, 0))
    assert abs((left + right) / 2 - W / 2) <= 3
    region = frame[top:bottom, left:right].reshape(-1, 3)
    assert np.any(np.all(region == GREEN, axis=1)), "no solid glyph pixel"
    assert not np.any(region[:, 0] > 40), "only green and its antialiasing are drawn"


def test_wrapped_text_lines_stay_within_max_width(scene: Scene) -> None:
    element = {
        "type": "text",
        "text": "the quick brown fox jumps over the lazy dog again",
        "font_size": 30,
        "max_width": 260,
        "position": "top-left",
    }
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    left, _top, right, _bottom = ink_box(frame, (0, 0, 0))
    assert right - left <= 262
    rows = np.any(np.any(frame > 60, axis=2), axis=1)
    bands = int(np.count_nonzero(rows[1:] & ~rows[:-1])) + int(rows[0])
    assert bands >= 3, "the text wrapped onto several lines"


def test_default_max_width_is_ninety_percent_of_the_canvas(scene: Scene) -> None:
    element = {"type": "text", "text": " ".join(["wrapping"] * 30), "font_size": 30}
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    left, _, right, _ = ink_box(frame, (0, 0, 0))
    assert right - left <= 0.9 * W + 2
    assert right - left > 0.7 * W


def test_text_opacity_and_colour_alpha(scene: Scene) -> None:
    element = {
        "type": "text",
        "text": "x",
        "font_size": 40,
        "background_color": "#FFFFFF",
        "padding": 40,
        "opacity": 0.5,
    }
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    # A corner of the padding is pure background box: white at 50 % over black.
    left, top, _, _ = ink_box(frame, (0, 0, 0))
    assert close(frame[top + 2, left + 2], (128, 128, 128), 2)


# -- image and video fit --------------------------------------------------------------------------


@pytest.fixture
def marked(make_png: Callable[..., str]) -> str:
    """A 200 × 100 picture: left quarter red, rest green."""
    pixels = solid(GREEN, 200, 100)
    pixels[:, :50] = RED
    return make_png("marked.png", pixels)


def fitted(scene: Scene, src: str, fit: str) -> Frame:
    element = {"type": "image", "src": src, "width": 400, "height": 300, "fit": fit}
    return scene.frame(movie({"duration": 1, "background": "#0000FF", "elements": [element]}), 0)


# The box is 400 × 300 centred on 640 × 360: x 120..520, y 30..330.


def test_fit_contain_letterboxes(scene: Scene, marked: str) -> None:
    frame = fitted(scene, marked, "contain")  # 400 × 200 at y 80..280
    assert close(frame[60, 320], BLUE), "bar above shows the background"
    assert close(frame[300, 320], BLUE), "bar below shows the background"
    assert close(frame[180, 140], RED) and close(frame[180, 260], GREEN)
    assert ink_box(frame, BLUE)[1] in (79, 80, 81)


def test_fit_cover_fills_and_crops(scene: Scene, marked: str) -> None:
    frame = fitted(scene, marked, "cover")  # 600 × 300 at x 20..620, clipped to 120..520
    assert ink_box(frame, BLUE) == (120, 30, 520, 330)
    assert close(frame[180, 125], RED), "the red quarter is cropped to 120..170"
    assert close(frame[180, 175], GREEN)


def test_fit_fill_stretches(scene: Scene, marked: str) -> None:
    frame = fitted(scene, marked, "fill")  # 400 × 300, red quarter 120..220
    assert ink_box(frame, BLUE) == (120, 30, 520, 330)
    assert close(frame[35, 215], RED) and close(frame[325, 225], GREEN)


def test_fit_none_keeps_natural_size(scene: Scene, marked: str) -> None:
    frame = fitted(scene, marked, "none")  # 200 × 100 centred: x 220..420, y 130..230
    assert ink_box(frame, BLUE) == (220, 130, 420, 230)
    assert close(frame[180, 265], RED) and close(frame[180, 275], GREEN)


def test_fit_geometry_of_each_mode() -> None:
    from PySide6.QtCore import QRectF

    box = QRectF(0, 0, 400, 300)
    assert fit_rect("contain", box, 200, 100).getRect() == (0, 50, 400, 200)
    assert fit_rect("cover", box, 200, 100).getRect() == (-100, 0, 600, 300)
    assert fit_rect("fill", box, 200, 100).getRect() == (0, 0, 400, 300)
    assert fit_rect("none", box, 200, 100).getRect() == (100, 100, 200, 100)


def test_picture_anchors_to_corners(scene: Scene, make_png: Callable[..., str]) -> None:
    src = make_png("w.png", solid(WHITE))
    element = {
        "type": "image",
        "src": src,
        "width": 100,
        "height": 50,
        "fit": "fill",
        "position": "bottom-right",
        "x": -10,
        "y": -20,
    }
    frame = scene.frame(movie({"duration": 1, "elements": [element]}), 0)
    assert ink_box(frame, (0, 0, 0)) == (W - 110, H - 70, W - 10, H - 20)


def test_image_opacity_blends(scene: Scene, make_png: Callable[..., str]) -> None:
    element = {"type": "image", "src": make_png("w.png", solid(WHITE)), "opacity": 0.25}
    frame = scene.frame(movie({"duration": 1, "background": "#000000", "elements": [element]}), 0)
    assert close(frame[H // 2, W // 2], (64, 64, 64), 2)


def test_image_alpha_is_respected(scene: Scene, make_png: Callable[..., str]) -> None:
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[...] = (255, 255, 255, 128)
    element = {"type": "image", "src": make_png("half.png", pixels), "fit": "fill"}
    frame = scene.frame(movie({"duration": 1, "background": "#000000", "elements": [element]}), 0)
    assert close(frame[H // 2, W // 2], (128, 128, 128), 2)


def test_stills_are_loaded_once(scene: Scene, media: Any, make_png: Callable[..., str]) -> None:
    element = {"type": "image", "src": make_png("w.png", solid(WHITE))}
    comp = scene.compositor(movie({"duration": 1, "elements": [element]}))
    for i in range(5):
        comp.render_frame(i / 10)
    assert media.still_loads == 1


# -- video timing ---------------------------------------------------------------------------------


def video(**extra: Any) -> dict[str, Any]:
    return {"type": "video", "src": "clip.mp4", "fit": "fill", **extra}


def shown_time(frame: Frame) -> float:
    return int(frame[H // 2, W // 2, 0]) / 10


def test_video_source_time_includes_trim_start(scene: Scene) -> None:
    m = movie({"duration": 5, "elements": [video(start=1, trim_start=2)]})
    assert shown_time(scene.frame(m, 2.5)) == pytest.approx(3.5)


def test_video_loops_at_the_source_end(scene: Scene, video_double: Any, tmp_path: Path) -> None:
    s = Scene(tmp_path, video_double(durations={"clip.mp4": 3.0}))
    m = movie({"duration": 8, "elements": [video(trim_start=1, loop=True)]})
    # 2 s of source after the trim: at 2.5 s it has wrapped to 1 + 0.5.
    assert shown_time(s.frame(m, 2.5)) == pytest.approx(1.5)
    assert shown_time(s.frame(m, 4.7)) == pytest.approx(1.7)


def test_video_holds_its_last_frame(scene: Scene, video_double: Any, tmp_path: Path) -> None:
    s = Scene(tmp_path, video_double(durations={"clip.mp4": 2.0}))
    m = movie({"duration": 8, "elements": [video(duration=6)]})
    assert shown_time(s.frame(m, 5.0)) == pytest.approx(2.0)


def test_untimed_video_ends_with_its_source(video_double: Any, tmp_path: Path) -> None:
    s = Scene(tmp_path, video_double(durations={"clip.mp4": 2.0}))
    m = movie({"duration": 8, "background": "#0000FF", "elements": [video(trim_start=0.5)]})
    assert shown_time(s.frame(m, 1.4)) == pytest.approx(1.9)
    assert close(s.frame(m, 1.6)[H // 2, W // 2], BLUE), "1.5 s of source, then gone"


def test_outgoing_video_keeps_playing_during_a_transition(
    video_double: Any, tmp_path: Path
) -> None:
    media = video_double(durations={"clip.mp4": 10.0})
    m = movie(
        {"duration": 2, "elements": [video()]},
        {"duration": 2, "transition": {"type": "wipe-right", "duration": 1}},
    )
    frame = Compositor(m, media, tmp_path).render_rgb(2.5)
    # Wipe-right at 0.5: the right half still shows the outgoing scene, which ran on 0.5 s.
    assert int(frame[H // 2, W - 10, 0]) / 10 == pytest.approx(2.5)
    assert media.calls[-1] == ("clip.mp4", pytest.approx(2.5))


# -- animations -----------------------------------------------------------------------------------


def white_box(animation: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "image",
        "src": "w.png",
        "fit": "fill",
        "width": 100,
        "height": 100,
        "animation": animation,
        "animation_duration": 1,
        **extra,
    }


@pytest.fixture
def white(make_png: Callable[..., str]) -> str:
    return make_png("w.png", solid(WHITE))


def test_fade_in_is_half_way_at_half_duration(scene: Scene, white: str) -> None:
    m = movie({"duration": 4, "elements": [white_box("fade-in", start=1)]})
    assert close(scene.frame(m, 1.5)[H // 2, W // 2], (128, 128, 128), 3)
    assert close(scene.frame(m, 2.5)[H // 2, W // 2], WHITE)


def test_fade_out_ends_at_the_element_end(scene: Scene, white: str) -> None:
    m = movie({"duration": 4, "elements": [white_box("fade-out", duration=2)]})
    assert close(scene.frame(m, 0.5)[H // 2, W // 2], WHITE)
    assert close(scene.frame(m, 1.75)[H // 2, W // 2], (64, 64, 64), 3)


def test_fade_in_out_uses_both_ends(scene: Scene, white: str) -> None:
    m = movie({"duration": 4, "elements": [white_box("fade-in-out")]})
    assert close(scene.frame(m, 0.25)[H // 2, W // 2], (64, 64, 64), 3)
    assert close(scene.frame(m, 2.0)[H // 2, W // 2], WHITE)
    assert close(scene.frame(m, 3.5)[H // 2, W // 2], (128, 128, 128), 3)


def test_slide_in_left_enters_from_the_right_and_eases_out(scene: Scene, white: str) -> None:
    m = movie({"duration": 4, "elements": [white_box("slide-in-left")]})
    assert not np.any(scene.frame(m, 0.0) > 40), "starts outside the canvas"
    left = ink_box(scene.frame(m, 0.5), (0, 0, 0))[0]
    # Ease-out: at half time 87.5 % of the way from x=640 to x=270.
    assert abs(left - (640 - 0.875 * 370)) <= 2
    assert ink_box(scene.frame(m, 1.0), (0, 0, 0))[0] == 270


@pytest.mark.parametrize(
    ("animation", "axis", "sign"),
    [("slide-in-right", 0, -1), ("slide-in-up", 1, 1), ("slide-in-down", 1, -1)],
)
def test_slide_in_directions(
    scene: Scene, white: str, animation: str, axis: int, sign: int
) -> None:
    m = movie({"duration": 4, "elements": [white_box(animation)]})
    box = ink_box(scene.frame(m, 0.3), (0, 0, 0))
    settled = ink_box(scene.frame(m, 2.0), (0, 0, 0))
    assert (box[axis] - settled[axis]) * sign > 10


def zoom_marker(make_png: Callable[..., str]) -> str:
    """100 × 100 white with a red 10-px frame, so zooming pushes the red out of the box."""
    pixels = solid(RED, 100, 100)
    pixels[10:90, 10:90] = WHITE
    return make_png("framed.png", pixels)


def test_zoom_in_grows_content_within_its_box(scene: Scene, make_png: Callable[..., str]) -> None:
    element = {"type": "image", "src": zoom_marker(make_png), "width": 200, "height": 200}
    element["animation"] = "zoom-in"
    m = movie({"duration": 2, "background": "#0000FF", "elements": [element]})
    start = scene.frame(m, 0.0)
    end = scene.frame(m, 1.999)
    box = (220, 80, 420, 280)
    assert ink_box(start, BLUE) == box and ink_box(end, BLUE) == box, "clipped to the box"
    assert close(start[85, 320], RED), "the red frame is at the box edge at first"
    assert close(end[85, 320], WHITE), "zoomed 1.2× the frame's inner part covers the edge"


def test_pan_left_moves_content_left(scene: Scene, make_png: Callable[..., str]) -> None:
    pixels = solid(GREEN, 100, 100)
    pixels[:, 45:55] = RED
    element = {
        "type": "image",
        "src": make_png("stripe.png", pixels),
        "width": 200,
        "height": 200,
        "animation": "pan-left",
    }
    m = movie({"duration": 2, "elements": [element]})

    def stripe_x(frame: Frame) -> float:
        row = frame[H // 2]
        return float(np.mean(np.nonzero((row[:, 0] > 200) & (row[:, 1] < 50))[0]))

    first, last = stripe_x(scene.frame(m, 0.0)), stripe_x(scene.frame(m, 1.999))
    # Content at 1.2× travels the extra 20 % of the box width: +20 px → -20 px around 320.
    assert first == pytest.approx(340, abs=2) and last == pytest.approx(300, abs=2)


# -- transitions ----------------------------------------------------------------------------------


def two_scenes(kind: str, **first: Any) -> Movie:
    return movie(
        {"duration": 2, "background": "#FF0000", **first},
        {"duration": 2, "background": "#0000FF", "transition": {"type": kind, "duration": 1}},
    )


def test_crossfade_midpoint_mixes_both_scenes(scene: Scene) -> None:
    frame = scene.frame(two_scenes("crossfade"), 2.5)
    assert close(frame[H // 2, W // 2], (128, 0, 128), 2)


def test_crossfade_starts_on_the_outgoing_scene(scene: Scene) -> None:
    assert close(scene.frame(two_scenes("crossfade"), 2.0)[0, 0], RED, 1)
    assert close(scene.frame(two_scenes("crossfade"), 3.0)[0, 0], BLUE, 0)


def test_fade_passes_through_the_incoming_background(scene: Scene, white: str) -> None:
    m = movie(
        {"duration": 2, "background": "#FF0000"},
        {
            "duration": 2,
            "background": "#00FF00",
            "transition": {"type": "fade", "duration": 1},
            "elements": [{"type": "image", "src": white, "fit": "fill"}],
        },
    )
    assert close(scene.frame(m, 2.5)[H // 2, W // 2], GREEN, 1), "midpoint: background only"
    assert close(scene.frame(m, 2.25)[H // 2, W // 2], (128, 128, 0), 2)
    assert close(scene.frame(m, 2.75)[H // 2, W // 2], (128, 255, 128), 2)


def test_slide_left_pushes_both_scenes(scene: Scene, white: str) -> None:
    outgoing_marker = {
        "elements": [
            {
                "type": "image",
                "src": white,
                "fit": "fill",
                "width": 40,
                "height": 40,
                "position": "center-right",
            }
        ]
    }
    frame = scene.frame(two_scenes("slide-left", **outgoing_marker), 2.5)
    assert close(frame[H // 2, W // 4], RED) and close(frame[H // 2, 3 * W // 4], BLUE)
    # The outgoing scene's right edge (with its marker) has moved to the canvas middle.
    assert close(frame[H // 2, W // 2 - 20], WHITE)


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [("slide-right", BLUE, RED), ("wipe-left", RED, BLUE), ("wipe-right", BLUE, RED)],
)
def test_slides_and_wipes_split_the_frame_at_half_way(
    scene: Scene, kind: str, first: tuple[int, int, int], second: tuple[int, int, int]
) -> None:
    frame = scene.frame(two_scenes(kind), 2.5)
    assert close(frame[H // 2, W // 4], first) and close(frame[H // 2, 3 * W // 4], second)


@pytest.mark.parametrize(
    ("kind", "top", "bottom"), [("slide-up", RED, BLUE), ("slide-down", BLUE, RED)]
)
def test_vertical_slides(
    scene: Scene, kind: str, top: tuple[int, ...], bottom: tuple[int, ...]
) -> None:
    frame = scene.frame(two_scenes(kind), 2.5)
    assert close(frame[H // 4, W // 2], top) and close(frame[3 * H // 4, W // 2], bottom)


def test_wipe_keeps_the_outgoing_scene_in_place(scene: Scene, white: str) -> None:
    marker = {
        "elements": [
            {
                "type": "image",
                "src": white,
                "fit": "fill",
                "width": 40,
                "height": 40,
                "position": "center-left",
            }
        ]
    }
    frame = scene.frame(two_scenes("wipe-left", **marker), 2.5)
    assert close(frame[H // 2, 20], WHITE)


# -- scale ----------------------------------------------------------------------------------------


def test_half_scale_is_the_same_picture_downsampled(
    scene: Scene, make_png: Callable[..., str]
) -> None:
    y, x = np.mgrid[0:120, 0:160]
    gradient = np.stack([x * 255 // 160, y * 255 // 120, np.full_like(x, 90)], axis=-1)
    src = make_png("gradient.png", gradient.astype(np.uint8))
    m = movie(
        {
            "duration": 2,
            "background": "#203040",
            "elements": [
                {"type": "image", "src": src, "width": 300, "height": 200, "position": "top-left"},
                {
                    "type": "text",
                    "text": "Scale me, please",
                    "font_size": 44,
                    "position": "bottom-center",
                    "background_color": "#000000AA",
                    "stroke_color": "#FF8800",
                    "stroke_width": 2,
                },
                video(width=200, height=120, position="center-right"),
            ],
        },
        width=800,
        height=480,
    )
    full = scene.frame(m, 0.5, 1.0).astype(float)
    half = scene.frame(m, 0.5, 0.5).astype(float)
    assert half.shape == (240, 400, 3)
    down = full.reshape(240, 2, 400, 2, 3).mean(axis=(1, 3))
    difference = np.abs(down - half)
    assert difference.mean() < 2.0
    assert np.percentile(difference, 99) < 40


# -- media errors ---------------------------------------------------------------------------------


def broken_movie(white: str) -> Movie:
    return movie(
        {
            "duration": 2,
            "elements": [
                {
                    "type": "image",
                    "src": white,
                    "width": 100,
                    "height": 100,
                    "position": "top-left",
                },
                {"type": "video", "src": "broken.mp4", "width": 200, "height": 100},
            ],
        }
    )


def test_broken_media_draws_a_placeholder_and_is_recorded(
    video_double: Any, tmp_path: Path, white: str
) -> None:
    reported: list[ElementError] = []
    comp = Compositor(
        broken_movie(white),
        video_double(broken={"broken.mp4"}),
        tmp_path,
        on_error=reported.append,
    )
    frame = comp.render_rgb(0.5)
    comp.render_rgb(1.0)
    placeholder = (PLACEHOLDER_FILL.red(), PLACEHOLDER_FILL.green(), PLACEHOLDER_FILL.blue())
    assert close(frame[H // 2 + 20, W // 2 - 50], placeholder)
    assert ink_box(frame[:, 150:], (0, 0, 0)) == (220 - 150, 130, 420 - 150, 230)
    assert close(frame[50, 50], WHITE), "the other elements still draw"
    assert len(reported) == 1 and comp.errors == reported
    assert reported[0].path == "scenes.0.elements.1"
    assert reported[0].src == "broken.mp4"
    assert "broken.mp4" in reported[0].message


def test_missing_still_is_recorded(scene: Scene) -> None:
    m = movie({"duration": 1, "elements": [{"type": "image", "src": "gone.png"}]})
    comp = scene.compositor(m)
    comp.render_frame(0)
    assert [(e.path, e.src, e.reason) for e in comp.errors] == [
        ("scenes.0.elements.0", "gone.png", "not_found")
    ]


def test_strict_mode_raises_with_path_and_src(
    video_double: Any, tmp_path: Path, white: str
) -> None:
    comp = Compositor(
        broken_movie(white), video_double(broken={"broken.mp4"}), tmp_path, strict=True
    )
    with pytest.raises(RenderError) as caught:
        comp.render_frame(0.5)
    assert caught.value.path == "scenes.0.elements.1"
    assert caught.value.src == "broken.mp4"
    assert "scenes.0.elements.1" in str(caught.value)


def test_audio_elements_draw_nothing(scene: Scene) -> None:
    m = movie({"duration": 1, "elements": [{"type": "audio", "src": "missing.ogg"}]})
    comp = scene.compositor(m)
    assert close(comp.render_rgb(0.5)[5, 5], (0, 0, 0), 0)
    assert comp.errors == []
