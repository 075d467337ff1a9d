"""Text layout and drawing (spec §3.1): wrapping, measuring, alignment, box, outline."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PySide6.QtGui import QImage

from app.render.text import layout_text, measure_text, text_box_size, text_sprite
from app.script.model import TextElement


def text(**fields: object) -> TextElement:
    return TextElement.model_validate({"type": "text", "text": "Hello", **fields})


def rgba(image: QImage) -> npt.NDArray[np.uint8]:
    """Straight RGBA pixels of a sprite."""
    straight = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w, stride = straight.height(), straight.width(), straight.bytesPerLine()
    raw = np.frombuffer(straight.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return raw[:, : w * 4].reshape(h, w, 4).copy()


def test_one_line_is_line_height_times_font_size_tall() -> None:
    width, height = measure_text("Hello", 48, 1000, 1.2)
    assert height == pytest.approx(48 * 1.2)
    assert 48 < width < 48 * 5 * 0.8


def test_wrapping_makes_lines_narrower_than_max_width() -> None:
    sentence = "the quick brown fox jumps over the lazy dog"
    one_line_width, _ = measure_text(sentence, 40, 10_000, 1.2)
    width, height = measure_text(sentence, 40, 300, 1.2)
    assert width <= 300
    lines = round(height / 48)
    assert lines >= 3
    assert lines * 300 >= one_line_width, "nothing was lost"


def test_a_word_longer_than_max_width_breaks_instead_of_overflowing() -> None:
    width, height = measure_text("Supercalifragilisticexpialidocious", 40, 200, 1.0)
    assert width <= 200
    assert height >= 2 * 40


def test_newlines_break_lines_and_blank_lines_keep_their_height() -> None:
    assert measure_text("a\nb", 30, 1000, 1.5)[1] == pytest.approx(2 * 45)
    assert measure_text("a\n\nb", 30, 1000, 1.5)[1] == pytest.approx(3 * 45)


def test_layout_is_scale_free_and_proportional_to_font_size() -> None:
    small = measure_text("Proportional text", 24, 10_000, 1.2)
    large = measure_text("Proportional text", 48, 10_000, 1.2)
    assert large[0] == pytest.approx(2 * small[0], rel=1e-3)
    assert large[1] == pytest.approx(2 * small[1])


def test_bold_is_wider_than_regular() -> None:
    regular = measure_text("Wide words here", 40, 10_000, 1.2)[0]
    bold = measure_text("Wide words here", 40, 10_000, 1.2, bold=True)[0]
    assert bold > regular * 1.03


def test_unknown_family_measures_like_the_bundled_font() -> None:
    bundled = measure_text("Fallback", 40, 1000, 1.2)
    unknown = measure_text("Fallback", 40, 1000, 1.2, font_family="No Such Font 123")
    assert unknown == bundled


@pytest.mark.parametrize(("align", "expected"), [("left", 0.0), ("center", 0.5), ("right", 1.0)])
def test_align_places_short_lines_within_the_box(align: str, expected: float) -> None:
    layout = layout_text("a much longer first line\nshort", 40, 10_000, 1.2, align=align)
    second_line = layout.path.boundingRect()
    # Only the second line's glyphs live below the first line box.
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainterPath

    clip = QPainterPath()
    clip.addRect(QRectF(-10, 48, layout.width + 20, 48))
    short = layout.path.intersected(clip).boundingRect()
    slack = layout.width - short.width()
    assert slack > 100
    assert short.left() == pytest.approx(expected * slack, abs=6)
    assert second_line.width() <= layout.width + 6


def test_box_adds_default_padding_only_with_a_background() -> None:
    plain = text(font_size=50)
    boxed = text(font_size=50, background_color="#000000")
    width, height = measure_text("Hello", 50, 1728, 1.2)
    assert text_box_size(plain, 1920) == pytest.approx((width, height))
    assert text_box_size(boxed, 1920) == pytest.approx((width + 30, height + 30))
    assert text_box_size(text(font_size=50, padding=7), 1920) == pytest.approx(
        (width + 14, height + 14)
    )


def test_sprite_draws_background_box_and_fill() -> None:
    element = text(font_size=40, color="#00FF00", background_color="#0000FF80", padding=8)
    sprite = text_sprite(element, 1920, 1.0)
    pixels = rgba(sprite.image)
    ox, oy = round(sprite.origin.x()), round(sprite.origin.y())
    assert tuple(pixels[oy + 2, ox + 2]) == (0, 0, 255, 128)
    assert np.any(np.all(pixels[..., :3] == (0, 255, 0), axis=-1)), "glyphs are green"


def test_stroke_outlines_the_glyphs_under_the_fill() -> None:
    plain = rgba(text_sprite(text(font_size=60, text="O"), 1920, 1.0).image)
    outlined_sprite = text_sprite(
        text(font_size=60, text="O", stroke_color="#FF0000", stroke_width=4), 1920, 1.0
    )
    outlined = rgba(outlined_sprite.image)
    red = (outlined[..., 0] > 200) & (outlined[..., 1] < 60) & (outlined[..., 3] > 200)

    def solid_white(pixels: npt.NDArray[np.uint8]) -> int:
        return int((np.all(pixels[..., :3] > 230, axis=-1) & (pixels[..., 3] > 240)).sum())

    assert red.sum() > 200, "an outline is drawn"
    # The glyph interior stays white: at most its antialiased rim turns red.
    assert solid_white(outlined) >= 0.9 * solid_white(plain), "fill stays on top"


def test_translucent_fill_does_not_show_the_outline_through_it() -> None:
    element = text(
        font_size=80, text="I", color="#FFFFFF80", stroke_color="#FF0000", stroke_width=3
    )
    pixels = rgba(text_sprite(element, 1920, 1.0).image)
    # The stem of the I: its middle column holds fill only, white at half alpha.
    ys, xs = np.nonzero(pixels[..., 3] > 0)
    middle = pixels[(ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2]
    assert tuple(middle) == pytest.approx((255, 255, 255, 128), abs=2)


def test_sprite_scales_with_the_output() -> None:
    element = text(font_size=40, background_color="#000000")
    full = text_sprite(element, 1920, 1.0)
    half = text_sprite(element, 1920, 0.5)
    assert half.box_width == full.box_width
    assert half.image.width() == pytest.approx(full.image.width() / 2, abs=2)
    assert half.image.height() == pytest.approx(full.image.height() / 2, abs=2)


def test_sub_pixel_phase_shifts_the_glyphs() -> None:
    element = text(font_size=30)
    a = text_sprite(element, 1920, 1.0, (0.0, 0.0))
    b = text_sprite(element, 1920, 1.0, (0.5, 0.0))
    assert b.origin.x() - a.origin.x() == pytest.approx(0.5, abs=1.0)
    assert b.origin.x() % 1 == pytest.approx(0.5)


def test_measuring_a_whole_large_document_again_hits_the_cache() -> None:
    """Lint measures every text on every keystroke: 2,000 texts must not evict each other."""
    texts = [f"Scene {i} title" for i in range(2000)]
    first = [measure_text(t, 64, 1700, 1.2) for t in texts]
    before = measure_text.cache_info()
    again = [measure_text(t, 64, 1700, 1.2) for t in texts]
    after = measure_text.cache_info()
    assert again == first
    assert after.hits - before.hits == len(texts)
    assert after.misses == before.misses
