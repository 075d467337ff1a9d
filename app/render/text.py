"""Text elements: wrapping, measuring and drawing (spec §3.1).

Layout happens once per text in *script pixels*, independent of the output scale: the font is
shaped at a large reference size without hinting and the glyph outlines are scaled down to the
requested size. So a line wraps at the same word at every scale (a 0.5 preview is the same picture
as the final render, at half size), fractional font sizes are exact, and lint measures exactly
what the renderer draws.

Drawing produces a `TextSprite`, the element's box (background, padding, outline and glyphs)
rasterised once per element and scale; the compositor then only blits it, with opacity and
motion, on every frame.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QTextLayout,
    QTextOption,
    QTransform,
)

from app.render.colors import qcolor
from app.render.fonts import ensure_qt, resolve_family
from app.script.model import TextElement

#: Pixel size at which text is shaped; outlines are scaled from it (big = precise advances).
REFERENCE_PX = 256.0
#: Default wrap width as a fraction of the canvas width.
DEFAULT_MAX_WIDTH = 0.9
#: Default safe-area margin as a fraction of the shorter canvas side.
DEFAULT_MARGIN = 0.05
#: Default padding as a multiple of the font size when a background box is drawn.
DEFAULT_PADDING = 0.3

_ALIGN_FACTOR = {"left": 0.0, "center": 0.5, "right": 1.0}


@dataclass(frozen=True)
class TextLayout:
    """Wrapped text in script px.

    `width` × `height` are the text's bounds (the widest line × line count × line pitch);
    `path` holds the glyph outlines with the bounds' top-left at (0, 0), lines already aligned.
    The path is shared by a cache: copy it before changing it.
    """

    width: float
    height: float
    line_count: int
    path: QPainterPath


@dataclass(frozen=True)
class TextSprite:
    """A text element's box rasterised at one scale.

    `image` is ARGB32 premultiplied in output px; the box's top-left corner lies at `origin`
    inside it (an integer plus the sprite's sub-pixel phase); the image is larger than the box
    where the outline or glyph overhangs spill out.
    `box_width`/`box_height` are the box size in script px, for anchoring.
    """

    image: QImage
    origin: QPointF
    box_width: float
    box_height: float


def _font(family: str | None, bold: bool, italic: bool) -> QFont:
    font = QFont(resolve_family(family))
    font.setPixelSize(int(REFERENCE_PX))
    font.setBold(bold)
    font.setItalic(italic)
    # Unhinted outlines scale linearly, so the layout is the same at every output size.
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    font.setKerning(True)
    return font


def _paragraph_lines(paragraph: str, font: QFont, width: float) -> list[tuple[QPainterPath, float]]:
    """Each wrapped line of one paragraph: (outline with its baseline at y=0, natural width)."""
    if paragraph == "":
        return [(QPainterPath(), 0.0)]
    layout = QTextLayout(paragraph, font)
    option = QTextOption()
    # Break at spaces; a single word wider than the line breaks between letters, never overflows.
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0.0, 0.0))
    layout.endLayout()
    lines = []
    for i in range(layout.lineCount()):
        line = layout.lineAt(i)
        path = QPainterPath()
        ascent = line.ascent()
        for run in line.glyphRuns():
            raw = run.rawFont()
            for glyph, pos in zip(run.glyphIndexes(), run.positions(), strict=True):
                outline = raw.pathForGlyph(glyph)
                outline.translate(pos.x(), pos.y() - ascent)
                path.addPath(outline)
        lines.append((path, line.naturalTextWidth()))
    return lines


@lru_cache(maxsize=512)
def layout_text(
    text: str,
    font_size: float,
    max_width: float,
    line_height: float = 1.2,
    bold: bool = False,
    italic: bool = False,
    font_family: str | None = None,
    align: str = "center",
) -> TextLayout:
    """Wrap `text` at word boundaries to `max_width` (script px) and align its lines.

    Each line occupies `line_height × font_size`; glyphs sit in it with equal space above and
    below (as CSS line boxes do), so the bounds are exactly `lines × line_height × font_size`.
    """
    ensure_qt()
    font = _font(font_family, bold, italic)
    k = font_size / REFERENCE_PX
    metrics = QFontMetricsF(font)
    lines: list[tuple[QPainterPath, float]] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.extend(_paragraph_lines(paragraph, font, max(max_width / k, 1.0)))
    widest = max((w for _, w in lines), default=0.0) * k
    pitch = line_height * font_size
    glyph_height = (metrics.ascent() + metrics.descent()) * k
    first_baseline = (pitch - glyph_height) / 2 + metrics.ascent() * k
    factor = _ALIGN_FACTOR.get(align, 0.5)
    path = QPainterPath()
    for i, (line_path, natural) in enumerate(lines):
        dx = (widest - natural * k) * factor
        path.addPath(QTransform(k, 0, 0, k, dx, i * pitch + first_baseline).map(line_path))
    return TextLayout(widest, len(lines) * pitch, len(lines), path)


@lru_cache(maxsize=16384)
def measure_text(
    text: str,
    font_size: float,
    max_width: float,
    line_height: float,
    bold: bool = False,
    italic: bool = False,
    font_family: str | None = None,
) -> tuple[float, float]:
    """The wrapped text's bounds (width, height) in px, without padding.

    Same signature as `app.script.lint.MeasureText`, so lint checks the real renderer's metrics.
    Cached on its own (two floats per entry) because lint measures every text element of the
    document on every keystroke: a 1,000-scene script has far more texts than `layout_text`'s
    path cache holds, and re-laying them out took ~130 ms per validation.
    """
    layout = layout_text(text, font_size, max_width, line_height, bold, italic, font_family, "left")
    return layout.width, layout.height


def default_max_width(canvas_width: float) -> float:
    return DEFAULT_MAX_WIDTH * canvas_width


def text_margin(element: TextElement, canvas_width: float, canvas_height: float) -> float:
    """The safe-area distance from the canvas edges used for edge positions."""
    if element.margin is not None:
        return element.margin
    return DEFAULT_MARGIN * min(canvas_width, canvas_height)


def text_padding(element: TextElement) -> float:
    if element.padding is not None:
        return element.padding
    return DEFAULT_PADDING * element.font_size if element.background_color else 0.0


def element_layout(element: TextElement, canvas_width: float) -> TextLayout:
    """The layout of a text element on a canvas `canvas_width` script px wide."""
    max_width = element.max_width or default_max_width(canvas_width)
    return layout_text(
        element.text,
        element.font_size,
        max_width,
        element.line_height,
        element.font_weight == "bold",
        element.italic,
        element.font_family,
        element.align,
    )


def text_box_size(element: TextElement, canvas_width: float) -> tuple[float, float]:
    """The element's box in script px: the wrapped text's bounds plus padding on every side."""
    layout = element_layout(element, canvas_width)
    padding = text_padding(element)
    return layout.width + 2 * padding, layout.height + 2 * padding


def _sprite_key(element: TextElement, canvas_width: float) -> tuple[object, ...]:
    return (
        element.text,
        element.font_size,
        element.max_width or default_max_width(canvas_width),
        element.line_height,
        element.font_weight,
        element.italic,
        element.font_family,
        element.align,
        element.color,
        element.background_color,
        text_padding(element),
        element.stroke_color,
        element.stroke_width,
    )


def text_sprite(
    element: TextElement, canvas_width: float, scale: float, phase: tuple[float, float] = (0, 0)
) -> TextSprite:
    """The element's box drawn at `scale` (output px per script px); cached by what it shows.

    `phase` is the sub-pixel position (0 ≤ x, y < 1, output px) of the box's top-left corner:
    glyphs are rasterised there, so a box at x = 10.5 is not snapped to 10 or 11 and the same
    text looks the same at every scale. Pass (0, 0) for moving text (any phase would be stale).
    """
    key = (*_sprite_key(element, canvas_width), scale, phase)
    with _SPRITES_LOCK:  # a preview thread and the GUI thread may both draw text
        sprite = _SPRITES.pop(key, None)
    if sprite is None:
        sprite = draw_text_box(element, canvas_width, scale, phase)
    with _SPRITES_LOCK:
        _SPRITES[key] = sprite  # (re-)inserted: the dict runs from least to most recently used
        while len(_SPRITES) > _SPRITE_LIMIT:
            _SPRITES.pop(next(iter(_SPRITES)))
    return sprite


_SPRITES: dict[tuple[object, ...], TextSprite] = {}
_SPRITE_LIMIT = 256
_SPRITES_LOCK = threading.Lock()


def draw_text_box(
    element: TextElement, canvas_width: float, scale: float, phase: tuple[float, float] = (0, 0)
) -> TextSprite:
    """Rasterise the element's box: background, then outline, then glyph fill on top.

    The outline is a pen of twice `stroke_width` centred on the glyph edges; the fill then
    replaces everything inside the glyphs, so `stroke_width` px of outline show outside each
    glyph and a translucent fill does not reveal the pen's inner half.
    """
    layout = element_layout(element, canvas_width)
    padding = text_padding(element)
    box_w = layout.width + 2 * padding
    box_h = layout.height + 2 * padding
    px, py = phase
    to_device = QTransform(scale, 0, 0, scale, padding * scale + px, padding * scale + py)
    glyphs = to_device.map(layout.path)
    stroke = element.stroke_width * scale if element.stroke_color else 0.0
    box = QRectF(px, py, box_w * scale, box_h * scale)
    spill = stroke + 2.0
    bounds = box.united(glyphs.boundingRect().adjusted(-spill, -spill, spill, spill))
    left = math.floor(bounds.left())
    top = math.floor(bounds.top())
    width = max(1, math.ceil(bounds.right()) - left)
    height = max(1, math.ceil(bounds.bottom()) - top)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    glyphs.translate(-left, -top)
    box.translate(-left, -top)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if element.background_color:
        painter.fillRect(box, qcolor(element.background_color))
    fill = qcolor(element.color)
    if stroke > 0 and element.stroke_color:
        layer = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        layer.fill(Qt.GlobalColor.transparent)
        glyph_painter = QPainter(layer)
        glyph_painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(qcolor(element.stroke_color), 2 * stroke)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        glyph_painter.strokePath(glyphs, pen)
        glyph_painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        glyph_painter.fillPath(glyphs, fill)
        glyph_painter.end()
        painter.drawImage(0, 0, layer)
    else:
        painter.fillPath(glyphs, fill)
    painter.end()
    return TextSprite(image, QPointF(px - left, py - top), box_w, box_h)
