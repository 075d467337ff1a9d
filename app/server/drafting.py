"""The sandbox's stand-in for Sketchpen's AI: deterministic drafts, cards, narration and MP4s.

The local service has no language, image or speech model. This module produces the same kinds
of results from the prompt alone, the same way every time, so the whole contract (statuses,
scene edits, credits, media URLs) can be exercised offline and in tests:

* `write_script`: the prompt's structure becomes scenes: a `Topic:` line opens, bullet or
  numbered items and `Structure:`/`Key points:` entries are one scene each, free text is split
  into sentences, a `Call to action:` closes; `Audience:`/`Tone:` lines are notes, not scenes.
  Feedback either asks for a shorter/longer script or adds its sentences as scenes. At most 40.
* `draw_card`: an illustration card per scene painted with QtGui (a wobbly hand-drawn frame,
  a doodle, the visual description in the theme's ink on white or a per-scene tint).
* `narrate` / `write_tone_bed`: word-level captions timed from the speech at a steady speaking
  rate, and a quiet tone bed (no speech synthesis) that swells on each word.
* `build_movie`: the movie script the render engine turns into the MP4 (cards as images,
  captions as text, the tone bed as audio) at the video's fps and aspect ratio.
"""

from __future__ import annotations

import math
import re
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Scripts are cut to this many scenes (spec §7).
MAX_SCENES = 40
SAMPLE_RATE = 48000
#: Speaking rate of the stand-in narrator (about 150 words per minute).
CHARS_PER_SECOND = 14.0
LEAD_IN = 0.3
TAIL = 0.5
MIN_SCENE_SECONDS = 1.5
CAPTION_WORDS = 5


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    description: str
    ink: str
    accent: str
    card: str
    #: Per-scene background tints for `bg_mode: "dynamic"`.
    tints: tuple[str, ...]


THEMES: dict[str, Theme] = {
    theme.id: theme
    for theme in (
        Theme(
            "presentation",
            "Standard Presentation",
            "Dark marker on clean cards with blue highlights; the default.",
            "#1F2933",
            "#2563EB",
            "#FFFFFF",
            ("#E8F0FE", "#FEF3C7", "#E0F2E9", "#FCE7F3"),
        ),
        Theme(
            "chalkboard",
            "Chalkboard",
            "White chalk lines with yellow accents on green-black boards.",
            "#F5F5F0",
            "#FACC15",
            "#24352B",
            ("#1E2B23", "#22303A", "#2B2533", "#2E2A1F"),
        ),
        Theme(
            "blueprint",
            "Blueprint",
            "Technical white sketches on blueprint blue.",
            "#FFFFFF",
            "#7DD3FC",
            "#1E4E8C",
            ("#1B4079", "#1F3F6E", "#23466F", "#1A365D"),
        ),
    )
}


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    description: str
    tags: tuple[str, ...]
    #: Pitch of the tone bed in Hz.
    pitch: float


VOICES: dict[str, Voice] = {
    voice.id: voice
    for voice in (
        Voice("ember", "Ember", "Warm low tone bed (offline, no speech).", ("warm", "low"), 164.8),
        Voice("slate", "Slate", "Neutral mid tone bed (offline, no speech).", ("neutral",), 220.0),
        Voice("lumen", "Lumen", "Bright high tone bed (offline, no speech).", ("bright",), 293.7),
    )
}
DEFAULT_VOICE = "slate"

ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}


def frame_size(aspect_ratio: str, short_side: int) -> tuple[int, int]:
    """(width, height), both even: 16:9 at 1080 → 1920×1080."""
    a, b = ASPECTS[aspect_ratio]
    short = max(16, 2 * round(short_side / 2))
    long = 2 * round(short * max(a, b) / min(a, b) / 2)
    return (long, short) if a >= b else (short, long)


# -- the script --------------------------------------------------------------------------------

_LABEL = re.compile(
    r"^\s*(topic|title|audience|tone|structure|outline|key points|points|call to action|cta)"
    r"\s*[:：]\s*(.*)$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•–]|\d{1,2}[.)])\s+(.*)$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“(\[]?[A-Z0-9À-Ý])")
_STOP = frozenset(
    """about above after again against also among and another any are because been before
    being below between both but can could does doing down during each even every from further
    have having here how into its itself just like make makes many more most much must only other
    our ours over same should some such than that the their them then there these they this those
    through under until very was were what when where which while who whom why will with would
    your yours you for not all out use used using one two three way ways get gets let lets
    today learn explain show shows let's""".split()  # noqa: SIM905 (a word list reads better)
)
_LAYOUTS = (
    "with arrows linking the ideas",
    "on a whiteboard, circled in marker",
    "as a simple labelled diagram",
    "inside a thought bubble",
    "with a bold underline and a star",
    "as a step-by-step doodle",
)
_SHORTER = re.compile(r"\b(shorter|shorten|fewer|concise|brief|less)\b", re.IGNORECASE)
_LONGER = re.compile(r"\b(longer|expand|more detail|more scenes|elaborate)\b", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split prose into sentences (a period, ! or ? followed by a capital or digit)."""
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE_END.split(flat) if s.strip()]


def _as_sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…:" else text + "."


def _items(text: str) -> list[str]:
    parts = re.split(r"\s*(?:;|,|→|->|\bthen\b)\s*", text)
    return [p for p in (part.strip(" .") for part in parts) if p]


def visual_for(speech: str, index: int) -> str:
    """What the card shows: the speech's key words in a layout picked from them."""
    words: list[str] = []
    for raw in re.findall(r"[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9'-]*", speech):
        word = raw.lower().strip("'-")
        if len(word) >= 4 and word not in _STOP and word not in words:
            words.append(word)
    if not words:
        return f"A simple hand-drawn doodle for scene {index + 1}"
    layout = _LAYOUTS[zlib.crc32(" ".join(words).encode()) % len(_LAYOUTS)]
    return f"A hand-drawn sketch of {', '.join(words[:4])} {layout}"


def write_script(prompt: str, feedback: str = "") -> list[tuple[str, str]]:
    """The prompt (and optional feedback) as scenes: [(speech, visual_description)], ≤ 40."""
    speeches: list[str] = []
    closing: list[str] = []
    audience = ""
    pending_list = False
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            speeches.extend(sentences(" ".join(paragraph)))
            paragraph.clear()

    for line in prompt.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            flush()
            pending_list = False
            continue
        label = _LABEL.match(line)
        if label:
            flush()
            name, rest = label.group(1).lower(), label.group(2).strip()
            pending_list = False
            if name in ("topic", "title") and rest:
                speeches.append(_as_sentence(f"Let's explore {rest.rstrip('.')}"))
            elif name == "audience":
                audience = rest.rstrip(".")
            elif name in ("structure", "outline", "key points", "points"):
                speeches.extend(_as_sentence(item) for item in _items(rest))
                pending_list = True
            elif name in ("call to action", "cta") and rest:
                closing.append(_as_sentence(rest))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            flush()
            if bullet.group(1).strip():
                speeches.append(_as_sentence(bullet.group(1)))
            continue
        if pending_list and len(line.strip()) < 80 and not re.search(r"[.!?…]", line):
            speeches.append(_as_sentence(line))
            continue
        paragraph.append(line.strip())
    flush()
    if audience and speeches:
        speeches.insert(1, _as_sentence(f"This one is for {audience}"))
    speeches += closing
    speeches = _apply_feedback(speeches, feedback)
    if not speeches:
        speeches = [_as_sentence(prompt)]
    speeches = [s[:2000] for s in speeches if s][:MAX_SCENES]
    return [(speech, visual_for(speech, i)) for i, speech in enumerate(speeches)]


def _apply_feedback(speeches: list[str], feedback: str) -> list[str]:
    """Shorter → every other middle scene; longer → sentences split at commas; anything else is
    more brief: its sentences become scenes before a closing call to action (the last scene)."""
    feedback = feedback.strip()
    if not feedback:
        return speeches
    notes = [s for s in sentences(feedback) if not _SHORTER.search(s) and not _LONGER.search(s)]
    if _SHORTER.search(feedback) and len(speeches) > 2:
        middle = speeches[1:-1][::2]
        speeches = [speeches[0], *middle, speeches[-1]]
    elif _LONGER.search(feedback):
        longer: list[str] = []
        for speech in speeches:
            parts = [p.strip() for p in speech.split(",") if p.strip()]
            longer += [_as_sentence(p) for p in parts] if len(parts) > 1 else [speech]
        speeches = longer
    added = [_as_sentence(note) for note in notes]
    if len(speeches) > 1:
        return [*speeches[:-1], *added, speeches[-1]]
    return speeches + added


# -- narration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Narration:
    """A scene's word timings (seconds from the scene start) and its length."""

    captions: list[dict[str, Any]]
    duration: float


def narrate(speech: str) -> Narration:
    """Time each word from its length at a steady rate, with pauses at punctuation."""
    t = LEAD_IN
    captions: list[dict[str, Any]] = []
    for word in speech.split():
        length = (len(word.strip(".,;:!?…\"'()")) + 2) / CHARS_PER_SECOND
        start, end = t, t + length
        captions.append({"word": word, "start": round(start, 3), "end": round(end, 3)})
        t = end
        if word[-1] in ".!?…":
            t += 0.4
        elif word[-1] in ",;:":
            t += 0.2
    return Narration(captions, round(max(MIN_SCENE_SECONDS, t + TAIL), 3))


def write_tone_bed(
    path: Path, scenes: list[tuple[float, list[dict[str, Any]], float]], *, level: float = 0.05
) -> float:
    """A mono 48 kHz WAV: a quiet hum that swells on each captioned word (no speech).

    `scenes` is [(duration, captions, pitch)] in play order; returns the total duration.
    """
    total = math.fsum(d for d, _, _ in scenes)
    n = round(total * SAMPLE_RATE)
    signal = np.zeros(n, dtype=np.float64)
    offset = 0.0
    for duration, captions, pitch in scenes:
        a = round(offset * SAMPLE_RATE)
        b = min(n, round((offset + duration) * SAMPLE_RATE))
        t = np.arange(b - a) / SAMPLE_RATE
        envelope = np.full(b - a, 0.25)
        for word in captions:
            s = round(word["start"] * SAMPLE_RATE)
            e = min(b - a, round(word["end"] * SAMPLE_RATE))
            if e > s:
                envelope[s:e] += np.sin(np.linspace(0, math.pi, e - s)) * 0.75
        tone = np.sin(2 * math.pi * pitch * t) + 0.3 * np.sin(2 * math.pi * pitch * 1.5 * t)
        signal[a:b] = tone * envelope * level
        offset += duration
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with wave.open(str(part), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    part.replace(path)
    return total


# -- cards -------------------------------------------------------------------------------------


def scene_background(theme: Theme, bg_mode: str, index: int) -> str:
    return "#FFFFFF" if bg_mode == "white" else theme.tints[index % len(theme.tints)]


def draw_card(
    path: Path,
    *,
    visual_description: str,
    index: int,
    size: tuple[int, int],
    theme: Theme,
    bg_mode: str,
    seed: str,
    asset_images: list[Path] | None = None,
) -> None:
    """Paint the scene's illustration card and save it as PNG (atomically)."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen

    from app.render.fonts import DEFAULT_FAMILY, ensure_qt

    ensure_qt()
    width, height = size
    rng = np.random.default_rng(zlib.crc32(f"{seed}:{index}".encode()))
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor(scene_background(theme, bg_mode, index)))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        short = min(width, height)
        wobble = short * 0.008
        margin = short * 0.07
        card = QRectF(margin, margin, width - 2 * margin, height - 2 * margin)

        def wobbly_rect(rect: QRectF) -> QPainterPath:
            corners = [rect.topLeft(), rect.topRight(), rect.bottomRight(), rect.bottomLeft()]
            path = QPainterPath()
            for k in range(4):
                p, q = corners[k], corners[(k + 1) % 4]
                steps = 12
                for s in range(steps):
                    f = s / steps
                    jitter = rng.normal(0, wobble, 2)
                    point = QPointF(
                        p.x() + (q.x() - p.x()) * f + jitter[0],
                        p.y() + (q.y() - p.y()) * f + jitter[1],
                    )
                    if k == 0 and s == 0:
                        path.moveTo(point)
                    else:
                        path.lineTo(point)
            path.closeSubpath()
            return path

        ink = QColor(theme.ink)
        accent = QColor(theme.accent)
        card_colour = QColor(theme.card)
        if bg_mode == "white" and theme.card.upper() != "#FFFFFF":
            card_colour = QColor("#FFFFFF")
            ink = QColor("#1F2933")
        pen = QPen(ink, max(1.0, short / 110))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(card_colour)
        painter.drawPath(wobbly_rect(card))
        # A second, offset stroke: the "drawn twice by hand" look.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        pen.setWidthF(max(1.0, short / 260))
        painter.setPen(pen)
        painter.drawPath(wobbly_rect(card.adjusted(wobble, wobble, -wobble, wobble)))

        # The doodle: a sun-like circle with rays, or a star, in the accent colour.
        accent_pen = QPen(accent, max(1.0, short / 90))
        accent_pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(accent_pen)
        r = short * 0.07
        centre = QPointF(card.left() + r * 2.2, card.top() + r * 2.2)
        doodle = QPainterPath()
        for s in range(25):
            angle = 2 * math.pi * s / 24
            rad = r * (1 + rng.normal(0, 0.04))
            point = QPointF(centre.x() + rad * math.cos(angle), centre.y() + rad * math.sin(angle))
            if s == 0:
                doodle.moveTo(point)
            else:
                doodle.lineTo(point)
        painter.drawPath(doodle)
        for s in range(8):
            angle = 2 * math.pi * s / 8 + rng.normal(0, 0.05)
            painter.drawLine(
                QPointF(
                    centre.x() + 1.3 * r * math.cos(angle), centre.y() + 1.3 * r * math.sin(angle)
                ),
                QPointF(
                    centre.x() + 1.7 * r * math.cos(angle), centre.y() + 1.7 * r * math.sin(angle)
                ),
            )
        label = QFont(DEFAULT_FAMILY)
        label.setPixelSize(max(6, round(short * 0.05)))
        label.setBold(True)
        painter.setFont(label)
        painter.drawText(
            QRectF(centre.x() + 2 * r, card.top() + r, card.width() / 2, r * 1.6),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            f"Scene {index + 1}",
        )

        # The visual description, wrapped, with a wobbly underline.
        text_rect = card.adjusted(
            card.width() * 0.08, card.height() * 0.32, -card.width() * 0.08, -card.height() * 0.12
        )
        font = QFont(DEFAULT_FAMILY)
        font.setItalic(True)
        font.setPixelSize(max(6, round(short * 0.065)))
        painter.setFont(font)
        painter.setPen(QPen(ink))
        flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        bounds = painter.boundingRect(text_rect, flags, visual_description)
        while bounds.height() > text_rect.height() and font.pixelSize() > 6:
            font.setPixelSize(font.pixelSize() - 1)
            painter.setFont(font)
            bounds = painter.boundingRect(text_rect, flags, visual_description)
        painter.drawText(text_rect, flags, visual_description)
        underline = QPainterPath()
        y = min(text_rect.bottom(), bounds.bottom() + short * 0.02)
        underline.moveTo(bounds.left(), y)
        for s in range(1, 9):
            underline.lineTo(bounds.left() + bounds.width() * s / 8, y + rng.normal(0, wobble))
        painter.setPen(accent_pen)
        painter.drawPath(underline)

        for k, asset in enumerate(asset_images or []):
            picture = QImage(str(asset))
            if picture.isNull():
                continue
            box = short * 0.22
            scaled = picture.scaled(
                round(box),
                round(box),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            x = card.right() - (k + 1) * (box + short * 0.02)
            painter.drawImage(QPointF(x, card.bottom() - box - short * 0.03), scaled)
    finally:
        painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.stem + ".part.png")
    if not image.save(str(part)):
        raise OSError(f"cannot write the card {path}")
    part.replace(path)


def write_thumbnail(card: Path, path: Path, width: int = 480) -> None:
    """A JPEG thumbnail of the first card."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    image = QImage(str(card))
    if image.isNull():
        raise OSError(f"cannot read the card {card}")
    if image.width() > width:
        image = image.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
    part = path.with_name(path.stem + ".part.jpg")
    if not image.save(str(part), quality=85):
        raise OSError(f"cannot write the thumbnail {path}")
    part.replace(path)


# -- the movie ---------------------------------------------------------------------------------


def caption_chunks(captions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups of up to 5 words, broken after sentence ends: one on-screen caption each."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for word in captions:
        current.append(word)
        if len(current) >= CAPTION_WORDS or word["word"][-1] in ".!?…":
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def build_movie(
    *,
    scenes: list[dict[str, Any]],
    cards: list[Path],
    durations: list[float],
    audio: Path | None,
    size: tuple[int, int],
    fps: int,
    theme: Theme,
    bg_mode: str,
) -> dict[str, Any]:
    """The movie script for the render engine: per scene its card, its captions as text
    timed to the words, and its slice of the tone bed."""
    width, height = size
    out: list[dict[str, Any]] = []
    offset = 0.0
    for i, (scene, card, duration) in enumerate(zip(scenes, cards, durations, strict=True)):
        elements: list[dict[str, Any]] = [
            {"type": "image", "src": str(card.resolve()), "fit": "cover"}
        ]
        for chunk in caption_chunks(scene.get("captions") or []):
            start = chunk[0]["start"]
            end = min(duration, chunk[-1]["end"] + 0.15)
            if start >= duration or end <= start:
                continue
            elements.append(
                {
                    "type": "text",
                    "text": " ".join(w["word"] for w in chunk),
                    "start": start,
                    "duration": round(end - start, 3),
                    "position": "bottom-center",
                    "font_size": max(8, round(min(width, height) * 0.06)),
                    "color": "#FFFFFF",
                    "background_color": "#1F2933CC",
                }
            )
        if audio is not None:
            elements.append(
                {
                    "type": "audio",
                    "src": str(audio.resolve()),
                    "trim_start": round(offset, 6),
                    "duration": duration,
                }
            )
        out.append(
            {
                "name": f"Scene {i + 1}",
                "duration": duration,
                "background": scene_background(theme, bg_mode, i),
                "elements": elements,
            }
        )
        offset += duration
    return {"width": width, "height": height, "fps": float(fps), "quality": "medium", "scenes": out}
