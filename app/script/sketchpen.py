"""A Sketchpen AI video (a draft in `refining`, or `completed`) as a movie script, so the user can
keep editing it in the studio.

    script = video_to_script(video_json, media={url: local_path})

One movie scene per Sketchpen scene: the illustration (`image_url`) fills the frame, the speech
appears as caption lines timed to the narration's words (`captions`, seconds relative to the
scene), and the narration (`audio_url`, one track for the whole video) plays under each scene
from that scene's offset. The aspect ratio gives the resolution (16:9 → 1920×1080 at the
default short side of 1080) and `config.fps` the frame rate.

The contract gives no scene durations, so the timing follows the local service's narrator
(`app/server/drafting.py`; the client integration tests check that the two agree): a scene
lasts until its last word ends, plus the pause after that word's punctuation, plus
`SCENE_TAIL` (at least `MIN_SCENE_SECONDS`); the narration track is the scenes' narrations back
to back, so scene *i*'s audio starts at the sum of the durations before it. A scene without
captions (a draft, or `audio_mode: "none"`) is timed from its speech by the same steady
narrator, and a scene without an image shows its visual description instead.

Pure: the input is the JSON the API returns, already parsed; nothing is fetched here. Any input
either converts to a script that validates against the bundled schema or raises
`ConversionError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

#: Aspect ratio → (width units, height units); the contract's three (§4.1).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_SHORT_SIDE = 1080
#: 4K UHD: 3840×2160 landscape, 2160×3840 portrait.
MAX_SHORT_SIDE = 2160
DEFAULT_FPS = 24
#: Seconds of rest after a scene's last word before the next scene starts.
SCENE_TAIL = 0.5
#: The narrator pauses this long after a sentence, and after a clause.
SENTENCE_PAUSE = 0.4
CLAUSE_PAUSE = 0.2
SENTENCE_MARKS = ".!?…"
CLAUSE_MARKS = ",;:"
MIN_SCENE_SECONDS = 1.5
MAX_SCENE_SECONDS = 3600.0
#: How a scene without word captions is timed: the steady narrator of the local service
#: (about 150 words a minute), starting after a short lead-in.
CHARS_PER_SECOND = 14.0
LEAD_IN = 0.3
#: Readable caption lines: at most this many characters (the usual subtitle limit) …
MAX_LINE_CHARS = 42
#: … shown for at most this long, and split at a pause in speech longer than this.
MAX_LINE_SECONDS = 4.0
LINE_PAUSE_SECONDS = 0.6
#: A line stays up this long after its last word (unless the next line starts) …
LINE_LINGER = 0.3
#: … and at least this long in all.
MIN_LINE_SECONDS = 0.8
CAPTION_COLOR = "#FFFFFF"
CAPTION_BOX = "#000000B3"
DESCRIPTION_COLOR = "#5A5A5A"
BACKGROUND = "#FFFFFF"

_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–]['\")\]]*$")


class ConversionError(ValueError):
    """The input cannot become a script (not a video object, no scenes yet), at `path`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class CaptionLine:
    text: str
    start: float
    end: float


def resolution(aspect_ratio: str | None, short_side: int = DEFAULT_SHORT_SIDE) -> tuple[int, int]:
    """(width, height) in even pixels; an unknown ratio is read as 16:9. The short side is kept
    within 16 … `MAX_SHORT_SIDE` so a portrait video stays within the schema's height limit."""
    w_units, h_units = ASPECT_RATIOS.get(aspect_ratio or "", ASPECT_RATIOS[DEFAULT_ASPECT_RATIO])
    short = _even(short_side, MAX_SHORT_SIDE)
    long = _even(short * max(w_units, h_units) / min(w_units, h_units), 4320)
    return (long, short) if w_units >= h_units else (short, long)


def _even(value: float, ceiling: int) -> int:
    return max(16, min(ceiling, round(value / 2) * 2))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    """Whitespace-normalised text; `{{` is split so AI text never reads as a template variable."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split()).replace("{{", "{ {")


def clean_captions(captions: Any) -> list[Word]:
    """The usable word captions, in time order: each a non-empty word with finite times,
    clamped to 0 … MAX_SCENE_SECONDS and `end ≥ start`; anything else is skipped."""
    if not isinstance(captions, list):
        return []
    words: list[Word] = []
    for item in captions:
        if not isinstance(item, Mapping):
            continue
        text = _text(item.get("word"))
        start = _number(item.get("start"))
        end = _number(item.get("end"))
        if not text or start is None:
            continue
        start = min(max(start, 0.0), MAX_SCENE_SECONDS)
        end = min(max(end if end is not None else start, start), MAX_SCENE_SECONDS)
        words.append(Word(text, start, end))
    words.sort(key=lambda w: (w.start, w.end))
    return words


def _pause_after(word: str) -> float:
    if word[-1:] in SENTENCE_MARKS:
        return SENTENCE_PAUSE
    if word[-1:] in CLAUSE_MARKS:
        return CLAUSE_PAUSE
    return 0.0


def estimate_words(speech: str, chars_per_second: float = CHARS_PER_SECOND) -> list[Word]:
    """Words of `speech` timed as a steady narrator speaks them: after a `LEAD_IN`, each word
    takes (letters + 2) / `chars_per_second` seconds, with a pause after sentences and clauses."""
    out: list[Word] = []
    t = LEAD_IN
    for token in speech.split():
        span = (len(token.strip(".,;:!?…\"'()")) + 2) / chars_per_second
        out.append(Word(token, round(t, 3), round(t + span, 3)))
        t += span + _pause_after(token)
    return out


def caption_lines(
    words: Sequence[Word],
    *,
    max_chars: int = MAX_LINE_CHARS,
    max_seconds: float = MAX_LINE_SECONDS,
    pause: float = LINE_PAUSE_SECONDS,
) -> list[CaptionLine]:
    """Group timed words into readable lines.

    The words are cut into phrases at sentence ends and at pauses longer than `pause`; a
    phrase longer than `max_chars` characters or `max_seconds` is split into as few lines as
    possible, of balanced lengths, preferring breaks after a clause (no orphaned last word).
    """
    lines: list[CaptionLine] = []
    phrase: list[Word] = []
    for word in words:
        if phrase and word.start - phrase[-1].end > pause:
            lines += _phrase_lines(phrase, max_chars, max_seconds)
            phrase = []
        phrase.append(word)
        if _SENTENCE_END.search(word.text):
            lines += _phrase_lines(phrase, max_chars, max_seconds)
            phrase = []
    lines += _phrase_lines(phrase, max_chars, max_seconds)
    return lines


def _phrase_lines(words: Sequence[Word], max_chars: int, max_seconds: float) -> list[CaptionLine]:
    count = len(words)
    if count == 0:
        return []
    ends = [0]
    for w in words:
        ends.append(ends[-1] + len(w.text) + 1)

    def chars(i: int, j: int) -> int:
        return ends[j] - ends[i] - 1

    def fits(i: int, j: int) -> bool:
        if j - i == 1:
            return True  # a word longer than a line still gets a line of its own
        return chars(i, j) <= max_chars and words[j - 1].end - words[i].start <= max_seconds

    # The fewest lines: greedy filling is optimal because a shorter run fits whenever a
    # longer one does.
    lines_needed = 0
    i = 0
    while i < count:
        j = i + 1
        while j < count and fits(i, j + 1):
            j += 1
        lines_needed += 1
        i = j
    target = chars(0, count) / lines_needed
    inf = float("inf")
    # best[k][j]: the least cost of `k` lines covering words[:j]; cut[k][j]: where line k starts.
    best = [[inf] * (count + 1) for _ in range(lines_needed + 1)]
    cut = [[0] * (count + 1) for _ in range(lines_needed + 1)]
    best[0][0] = 0.0
    for k in range(1, lines_needed + 1):
        for j in range(1, count + 1):
            for i in range(j - 1, -1, -1):
                if not fits(i, j):
                    break
                if best[k - 1][i] == inf:
                    continue
                cost = (chars(i, j) - target) ** 2
                if j < count and _CLAUSE_END.search(words[j - 1].text):
                    cost -= target * target / 4
                if best[k - 1][i] + cost < best[k][j]:
                    best[k][j] = best[k - 1][i] + cost
                    cut[k][j] = i
    out: list[CaptionLine] = []
    j = count
    for k in range(lines_needed, 0, -1):
        i = cut[k][j]
        part = words[i:j]
        out.append(
            CaptionLine(" ".join(w.text for w in part), part[0].start, max(w.end for w in part))
        )
        j = i
    out.reverse()
    return out


def scene_length(words: Sequence[Word]) -> float:
    """The scene's duration: the last word's end, its punctuation pause and `SCENE_TAIL`, at
    least `MIN_SCENE_SECONDS`."""
    if not words:
        return MIN_SCENE_SECONDS
    last = max(words, key=lambda w: w.end)
    length = last.end + _pause_after(last.text) + SCENE_TAIL
    return min(MAX_SCENE_SECONDS, max(MIN_SCENE_SECONDS, length))


def _round(value: float) -> float:
    return round(value, 3)


def _src(url: Any, media: Mapping[str, str], base_url: str | None) -> str | None:
    """A media URL as an element `src`: the local copy when one is given, else the URL
    (resolved against `base_url` when relative); None for anything unusable."""
    if not isinstance(url, str) or not url.strip():
        return None
    link: str = url.strip()
    local = media.get(link)
    if isinstance(local, str) and local.strip():
        return local
    if not link.lower().startswith(("http://", "https://")):
        if base_url is None:
            return None
        link = urljoin(base_url.rstrip("/") + "/", link)
        if not link.lower().startswith(("http://", "https://")):
            return None
    if any(c.isspace() for c in link):
        return None
    return link.replace("{", "%7B").replace("}", "%7D")


def _caption_elements(
    lines: Sequence[CaptionLine], duration: float, width: int, short: int
) -> list[dict[str, Any]]:
    font_size = max(12, round(short * 0.055))
    elements: list[dict[str, Any]] = []
    for k, line in enumerate(lines):
        start = _round(line.start)
        if start >= duration - 0.001:
            break
        end = max(line.end + LINE_LINGER, line.start + MIN_LINE_SECONDS)
        if k + 1 < len(lines) and lines[k + 1].start > line.start:
            end = min(end, lines[k + 1].start)
        end = min(end, duration)
        length = max(_round(end - start), 0.001)
        elements.append(
            {
                "type": "text",
                "text": line.text,
                "start": start,
                "duration": length,
                "position": "bottom-center",
                "font_size": font_size,
                "color": CAPTION_COLOR,
                "background_color": CAPTION_BOX,
                "max_width": round(width * 0.9),
                "align": "center",
            }
        )
    return elements


def _line_chars(width: int, short: int) -> int:
    """How many characters fit a caption line on this canvas (≈ 0.55 em per character)."""
    font_size = max(12, round(short * 0.055))
    fits = int(0.85 * width * 0.9 / (0.55 * font_size))
    return max(12, min(MAX_LINE_CHARS, fits))


def video_to_script(
    video: Any,
    *,
    media: Mapping[str, str] | None = None,
    base_url: str | None = None,
    short_side: int = DEFAULT_SHORT_SIDE,
) -> dict[str, Any]:
    """Convert a Sketchpen video (the API's JSON, parsed) into a movie script dict.

    `media` maps media URLs to local files (see `SketchpenClient.download_media`) so the
    script keeps working after hosted URLs expire; URLs not in it are used as they are.
    `base_url` resolves relative media URLs. `short_side` sets the resolution (1080 →
    1920×1080 for 16:9). Raises `ConversionError` when there is nothing to convert.
    """
    if not isinstance(video, Mapping):
        raise ConversionError("", "Expected a Sketchpen video object")
    raw_scenes = video.get("scenes")
    if not isinstance(raw_scenes, list) or not any(isinstance(s, Mapping) for s in raw_scenes):
        status = video.get("status")
        when = f" (it is {status})" if isinstance(status, str) and status else ""
        raise ConversionError("scenes", f"The video has no scenes yet{when}")
    media = media or {}
    config = video.get("config")
    config = config if isinstance(config, Mapping) else {}
    aspect = config.get("aspect_ratio")
    width, height = resolution(aspect if isinstance(aspect, str) else None, short_side)
    short = min(width, height)
    fps = _number(config.get("fps"))
    if fps is None or not 0 < fps <= 120:
        fps = DEFAULT_FPS
    narration = _src(video.get("audio_url"), media, base_url)
    max_chars = _line_chars(width, short)

    scenes: list[dict[str, Any]] = []
    offset = 0.0
    for raw in raw_scenes:
        if not isinstance(raw, Mapping):
            continue
        speech = _text(raw.get("speech"))
        description = _text(raw.get("visual_description"))
        words = clean_captions(raw.get("captions")) or estimate_words(speech)
        duration = _round(scene_length(words))
        elements: list[dict[str, Any]] = []
        image = _src(raw.get("image_url"), media, base_url)
        if image is not None:
            elements.append({"type": "image", "src": image, "fit": "contain"})
        elif description:
            elements.append(
                {
                    "type": "text",
                    "text": description,
                    "position": "center",
                    "font_size": max(12, round(short * 0.045)),
                    "color": DESCRIPTION_COLOR,
                    "italic": True,
                    "max_width": round(width * 0.8),
                }
            )
        elements += _caption_elements(
            caption_lines(words, max_chars=max_chars), duration, width, short
        )
        if narration is not None:
            audio: dict[str, Any] = {"type": "audio", "src": narration}
            if offset > 0:
                audio["trim_start"] = _round(offset)
            elements.append(audio)
        number = len(scenes) + 1
        label = description or speech
        name = f"{number}. {label[:57]}…" if len(label) > 60 else f"{number}. {label}"
        scenes.append(
            {
                "name": name.strip(),
                "duration": duration,
                "background": BACKGROUND,
                "elements": elements,
            }
        )
        offset += duration
    fps_value: int | float = int(fps) if float(fps).is_integer() else fps
    return {"width": width, "height": height, "fps": fps_value, "scenes": scenes}


__all__ = [
    "CaptionLine",
    "ConversionError",
    "Word",
    "caption_lines",
    "clean_captions",
    "estimate_words",
    "resolution",
    "scene_length",
    "video_to_script",
]
