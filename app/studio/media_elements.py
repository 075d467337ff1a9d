"""Media files dropped on the studio become elements: probe the file, pick the element type.

`element_for_file` probes (it reads the file), so callers run it off the GUI thread:

    tasks.run(elements_for_files, paths, document.base_dir, done=...)

and then add the result with `add_elements`, one undo step however many files were dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData

from app.media.errors import MediaError
from app.media.probe import probe
from app.studio.document import MISSING, Change, ScriptDocument

#: Durations written into new elements are rounded to milliseconds (readable JSON).
DURATION_DECIMALS = 3


class MediaElementError(MediaError):
    """A dropped file that cannot become an element (missing, not media, broken, unsupported).

    Keeps the probe's `reason`; `str(error)` names the file and says why."""

    def __init__(self, path: Path, reason: str, detail: str) -> None:
        super().__init__(str(path), reason, detail)
        self.path = path


def src_for(path: Path, base_dir: Path | None) -> str:
    """`src` for a local file: relative (with `/`) when it lies inside `base_dir`, else absolute."""
    absolute = Path(os.path.abspath(path))
    if base_dir is not None:
        base = Path(os.path.abspath(base_dir))
        try:
            return absolute.relative_to(base).as_posix()
        except ValueError:
            pass
        # Symlinked folders (/tmp → /private/tmp): compare the real locations too.
        try:
            return absolute.resolve().relative_to(base.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return str(absolute)


def element_for_file(path: Path, base_dir: Path | None) -> dict[str, Any]:
    """The element a media file becomes: image → `image`, video → `video` (with its duration),
    audio only → `audio` (with its duration). Raises `MediaElementError` when the file cannot
    be used. Probes the file: call it off the GUI thread."""
    path = Path(path)
    try:
        info = probe(path)
    except MediaError as exc:
        raise MediaElementError(path, exc.reason, f"Cannot add {path.name}: {exc.detail}") from exc
    src = src_for(path, base_dir)
    if info.is_still_image:
        return {"type": "image", "src": src}
    if info.has_video:
        element: dict[str, Any] = {"type": "video", "src": src}
    elif info.has_audio:
        element = {"type": "audio", "src": src}
    else:  # probe refuses these already; kept so a future probe cannot slip one through
        raise MediaElementError(
            path, "not_media", f"Cannot add {path.name}: it has no picture or sound"
        )
    duration = info.duration
    if duration is not None and math.isfinite(duration) and duration > 0:
        element["duration"] = max(round(duration, DURATION_DECIMALS), 10**-DURATION_DECIMALS)
    return element


@dataclass
class DroppedMedia:
    """What a drop of several files gave: elements in drop order, and the files refused."""

    elements: list[dict[str, Any]] = field(default_factory=list)
    errors: list[MediaElementError] = field(default_factory=list)

    def message(self) -> str:
        """The refusals as lines for a message box or status bar ("" when none)."""
        return "\n".join(str(error.detail) for error in self.errors)


def elements_for_files(paths: Iterable[Path], base_dir: Path | None) -> DroppedMedia:
    """`element_for_file` for each path, collecting the refusals instead of stopping at one.
    Probes: call it off the GUI thread."""
    result = DroppedMedia()
    for path in paths:
        try:
            result.elements.append(element_for_file(Path(path), base_dir))
        except MediaElementError as error:
            result.errors.append(error)
    return result


def local_files(mime: QMimeData) -> list[Path]:
    """The local files of a drag (URLs that are not local files are left out)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def is_script_file(path: Path) -> bool:
    """A `.json` drop opens a script rather than adding an element."""
    return path.suffix.lower() == ".json"


def add_elements(
    document: ScriptDocument,
    scene: int,
    elements: Sequence[dict[str, Any]],
    at: int | None = None,
) -> bool:
    """Insert `elements` into scene `scene` at index `at` (default: on top, i.e. at the end)
    as ONE undo step ("Add video to scene 2", "Add 3 media elements to scene 2").
    Returns False (nothing changed) when the scene is not there or has no usable element list."""
    if not elements:
        return False
    scene_data = document.value(("scenes", scene))
    if not isinstance(scene_data, dict):
        return False
    existing = scene_data.get("elements", MISSING)
    changes: list[Change] = []
    if existing is MISSING:
        changes.append(Change(("scenes", scene, "elements"), MISSING, []))
        count = 0
    elif isinstance(existing, list):
        count = len(existing)
    else:
        return False
    index = count if at is None else min(max(at, 0), count)
    for offset, element in enumerate(elements):
        changes.append(Change(("scenes", scene, "elements", index + offset), MISSING, element))
    if len(elements) == 1:
        what = str(elements[0].get("type", "media"))
    else:
        what = f"{len(elements)} media elements"
    document.edit(changes, f"Add {what} to scene {scene + 1}")
    return True
