"""Checks beyond the JSON Schema: rules that span fields, and things worth a warning.

* `script_rules` — errors the schema cannot express: a transition on the first scene, a
  transition longer than its scene, an element that starts after its scene has ended. They hold
  whatever schema is active, because they are about what can be rendered.
* `lint` — media and layout checks: local `src` when the target service is remote (it cannot read
  the user's disk), local files that do not exist, text boxes that leave the canvas.

All functions take the parsed (possibly invalid) document and never raise on odd shapes: a
field of the wrong type is the schema's problem, not theirs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.script.jsonpath import Path as JsonPath
from app.script.layout import anchor
from app.script.problems import (
    FILE_NOT_FOUND,
    LOCAL_FILE,
    OFF_CANVAS,
    VALIDATION_ERROR,
    Problem,
)
from app.script.sources import resolve_src

#: (text, font_size, max_width, line_height, bold, italic, font_family) → (width, height) in px
MeasureText = Callable[[str, float, float, float, bool, bool, str | None], tuple[float, float]]

LOCAL_FILE_MESSAGE = "Local file — the service cannot reach it"
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True)
class LintOptions:
    """What lint needs to know beyond the document.

    `base_dir`: the script file's folder (relative `src` resolve against it); None when the
    document was never saved, and then relative paths are not checked on disk.
    `remote`: the target render service is not on this machine, so local files are errors.
    `measure_text`: the renderer's text measurement; a character-width estimate otherwise.
    """

    base_dir: Path | None = None
    remote: bool = False
    check_files: bool = True
    measure_text: MeasureText | None = None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(seconds: float) -> str:
    return f"{seconds:g} s"


def iter_scenes(data: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    scenes = data.get("scenes") if isinstance(data, dict) else None
    if isinstance(scenes, list):
        for i, scene in enumerate(scenes):
            if isinstance(scene, dict):
                yield i, scene


def iter_elements(data: Any) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(scene index, element index, element) for every element that is an object."""
    for i, scene in iter_scenes(data):
        elements = scene.get("elements")
        if isinstance(elements, list):
            for j, element in enumerate(elements):
                if isinstance(element, dict):
                    yield i, j, element


def script_rules(data: Any) -> list[Problem]:
    """Cross-field errors (`VALIDATION_ERROR`), at the path of the field to change."""
    return rules_and_lint(data, None, layout=False)[0]


def _scene_rules(problems: list[Problem], i: int, scene: dict[str, Any]) -> float | None:
    """The scene's own cross-field errors; returns its duration when it is a usable number."""
    duration = _num(scene.get("duration"))
    transition = scene.get("transition")
    if isinstance(transition, dict):
        if i == 0:
            problems.append(
                Problem(
                    ("scenes", 0, "transition"),
                    "The first scene cannot have a transition: there is no scene before it",
                    code=VALIDATION_ERROR,
                )
            )
        t_duration = _num(transition.get("duration", 1.0))
        if duration and duration > 0 and t_duration is not None and t_duration > duration:
            problems.append(
                Problem(
                    ("scenes", i, "transition", "duration"),
                    f"Transition must not be longer than its scene ({_fmt(duration)})",
                    code=VALIDATION_ERROR,
                )
            )
    return duration if duration is not None and duration > 0 else None


def _check_src(path: JsonPath, src: str, options: LintOptions) -> Problem | None:
    source = resolve_src(src, options.base_dir)
    if not source.is_local:
        return None
    if options.remote:
        return Problem(path, LOCAL_FILE_MESSAGE, code=LOCAL_FILE)
    if not options.check_files or source.path is None:
        return None
    relative = not (src.lower().startswith("file://") or Path(src).expanduser().is_absolute())
    if relative and options.base_dir is None:
        return None
    if not source.path.is_file():
        what = "Folder, not a file" if source.path.is_dir() else "File not found"
        return Problem(path, f"{what}: {source.path}", code=FILE_NOT_FOUND)
    return None


def estimate_text_size(
    text: str,
    font_size: float,
    max_width: float,
    line_height: float,
    bold: bool = False,
    italic: bool = False,
    font_family: str | None = None,
) -> tuple[float, float]:
    """A font-free estimate of wrapped text's size (average advance ≈ 0.55 em, 0.6 bold)."""
    advance = font_size * (0.6 if bold else 0.55)
    if "\n" not in text and len(text) * advance <= max_width:
        return len(text) * advance, font_size * line_height  # the common case: one line
    lines = 0
    widest = 0.0
    for paragraph in text.split("\n"):
        line_width = 0.0
        for word in paragraph.split(" "):
            word_width = len(word) * advance
            extra = word_width + (advance if line_width else 0.0)
            if line_width and line_width + extra > max_width:
                widest = max(widest, line_width)
                lines += 1
                line_width = word_width
            else:
                line_width += extra
        widest = max(widest, line_width)
        lines += 1
    return widest, lines * font_size * line_height


def _text_box(
    element: dict[str, Any], canvas_w: float, canvas_h: float, options: LintOptions
) -> tuple[float, float, float, float] | None:
    """The text box's canvas rectangle (left, top, right, bottom), or None if unmeasurable.

    Hot path (every text element on every keystroke): plain lookups, no helpers."""
    get = element.get
    # Any: the document is unchecked here; each value's type is tested before use.
    text: Any = get("text")
    font_size: Any = get("font_size", 48.0)
    if type(text) is not str or type(font_size) not in _NUMBER_TYPES or font_size <= 0:
        return None
    max_width: Any = get("max_width")
    if type(max_width) not in _NUMBER_TYPES or max_width <= 0:
        max_width = 0.9 * canvas_w
    line_height: Any = get("line_height", 1.2)
    if type(line_height) not in _NUMBER_TYPES:
        line_height = 1.2
    bold = get("font_weight") == "bold"
    if options.measure_text is None:
        width, height = estimate_text_size(text, font_size, max_width, line_height, bold)
    else:
        family = get("font_family")
        width, height = options.measure_text(
            text,
            font_size,
            max_width,
            line_height,
            bold,
            get("italic") is True,
            family if type(family) is str else None,
        )
    padding: Any = get("padding")
    if type(padding) not in _NUMBER_TYPES:
        padding = 0.3 * font_size if type(get("background_color")) is str else 0.0
    width += 2 * padding
    height += 2 * padding
    margin: Any = get("margin")
    if type(margin) not in _NUMBER_TYPES:
        margin = 0.05 * (canvas_w if canvas_w < canvas_h else canvas_h)
    position: Any = get("position", "center")
    if type(position) is not str:
        position = "center"
    left, top = anchor(position, width, height, canvas_w, canvas_h, margin)
    x: Any = get("x", 0)
    y: Any = get("y", 0)
    if type(x) in _NUMBER_TYPES:
        left += x
    if type(y) in _NUMBER_TYPES:
        top += y
    return left, top, left + width, top + height


_MEDIA_TYPES = ("image", "video", "audio")  # a tuple: `kind` may be any JSON value
_REMOTE = ("https://", "http://")


def lint(data: Any, options: LintOptions | None = None) -> list[Problem]:
    """Media and layout problems; see the module docstring."""
    return rules_and_lint(data, options, rules=False)[1]


def rules_and_lint(
    data: Any, options: LintOptions | None = None, *, rules: bool = True, layout: bool = True
) -> tuple[list[Problem], list[Problem]]:
    """`script_rules` and `lint` in one pass over the elements (validation runs both on every
    keystroke): (cross-field errors, media and layout problems)."""
    options = options or LintOptions()
    rule_problems: list[Problem] = []
    problems: list[Problem] = []
    canvas_w = _num(data.get("width", 1920)) if isinstance(data, dict) else None
    canvas_h = _num(data.get("height", 1080)) if isinstance(data, dict) else None
    canvas_ok = bool(canvas_w and canvas_h and canvas_w > 0 and canvas_h > 0)
    scenes = data.get("scenes") if isinstance(data, dict) else None
    # Hot loop (every element on every keystroke): plain nested loops, no generator.
    for i, scene in enumerate(scenes if type(scenes) is list else ()):
        if type(scene) is not dict:
            continue
        duration = _scene_rules(rule_problems, i, scene) if rules else None
        elements = scene.get("elements")
        if type(elements) is not list:
            continue
        for j, element in enumerate(elements):
            if type(element) is not dict:
                continue
            if duration is not None:
                start: Any = element.get("start")
                if type(start) in _NUMBER_TYPES and start >= duration:
                    rule_problems.append(
                        Problem(
                            ("scenes", i, "elements", j, "start"),
                            f"Start must be before the scene ends (at {_fmt(duration)})",
                            code=VALIDATION_ERROR,
                        )
                    )
            if not layout:
                continue
            kind = element.get("type")
            if kind == "text":
                if not canvas_ok:
                    continue
                assert canvas_w is not None and canvas_h is not None
                box = _text_box(element, canvas_w, canvas_h, options)
                if box is None:
                    continue
                left, top, right, bottom = box
                if left < -1 or top < -1 or right > canvas_w + 1 or bottom > canvas_h + 1:
                    problems.append(
                        Problem(
                            ("scenes", i, "elements", j),
                            f"Text box leaves the {canvas_w:g}×{canvas_h:g} canvas (it spans "
                            f"x {left:.0f}…{right:.0f}, y {top:.0f}…{bottom:.0f})",
                            severity="warning",
                            code=OFF_CANVAS,
                        )
                    )
            elif kind in _MEDIA_TYPES:
                src = element.get("src")
                if type(src) is str and src and not src.startswith(_REMOTE):
                    problem = _check_src(("scenes", i, "elements", j, "src"), src, options)
                    if problem:
                        problems.append(problem)
    return rule_problems, problems
