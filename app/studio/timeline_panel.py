"""The Timeline dock: scenes as blocks proportional to their duration, elements as bars inside.

One custom-painted viewport (`TimelineView`, a QAbstractScrollArea) whose painting costs what its
pixels cost, not what the movie holds: scenes and bars wider than a few pixels are drawn in detail,
narrower ones (1,000 scenes zoomed to fit) are rasterised into pixel columns with numpy and drawn
as merged runs per lane, problems still coloured. The static picture (blocks, bars, labels, ruler)
is cached in a QPixmap, redrawn whole when the size, scroll, zoom, palette or font change and only
in the changed scenes' columns when data or validation change (an edit inside one scene redraws a
few pixels; a new length redraws from that scene on); the selection, drag and drop guides and the
playhead are drawn over it, so a playhead move repaints two thin strips. Timing comes from
`app.script.timeline.Timeline`, fed with the document's data made safe for drawing (a scene whose
duration is not a number still gets a block, flagged). Dragging a scene's right edge changes its
duration; dragging an element moves its `start`, its edges trim it; the drag is previewed live
and committed on release as ONE undo step ("Move scene 2 › element 1"). The playhead follows
`document.playhead`; clicking or dragging in the ruler seeks it. Video and audio sources are
probed (on a worker, once each) so a bar shows, hatched, where its source runs out.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from html import escape
from pathlib import Path as FilePath
from typing import Any, cast

import numpy as np
import qtawesome
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QHBoxLayout,
    QLabel,
    QToolBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.media.errors import MediaError
from app.media.probe import probe
from app.script.jsonpath import Path
from app.script.model import MAX_SCENE_SECONDS, Movie
from app.script.problems import Problem
from app.script.sources import resolve_src
from app.script.timeline import Timeline
from app.studio.document import MISSING, Change, ScriptDocument, Validation, describe
from app.studio.media_elements import (
    DroppedMedia,
    add_elements,
    elements_for_files,
    is_script_file,
    local_files,
)
from app.studio.tasks import TaskRunner

RULER_HEIGHT = 24
HEADER_HEIGHT = 26
LANE_HEIGHT = 22
LANE_GAP = 3
LEFT_PAD = 12
RIGHT_PAD = 240  # room to drag the last scene longer
BOTTOM_PAD = 8
EDGE_PX = 6  # how close to an edge the pointer grabs it
SNAP_PX = 8
MIN_PPS = 0.02  # pixels per second
MAX_PPS = 4000.0
ZOOM_STEP = 1.25
#: The shortest element or scene a drag can make.
MIN_SECONDS = 0.05
#: A scene whose duration is not a valid number is drawn this long (and flagged).
PLACEHOLDER_SECONDS = 1.0

KIND_COLOURS = {
    "text": "#8257c9",
    "image": "#1f8f83",
    "video": "#2f6fcf",
    "audio": "#3a8f42",
}
KIND_ICONS = {
    "text": "mdi6.format-text",
    "image": "mdi6.image-outline",
    "video": "mdi6.filmstrip",
    "audio": "mdi6.music-note",
}
PLAYHEAD_COLOUR = "#e8443a"

#: A scene narrower than this (px) is drawn coarse: its header as pixel columns, no label,
#: no transition wedge, its problems as a filled column instead of an outline.
SCENE_DETAIL_PX = 24.0
#: An element bar narrower than this (px) is drawn coarse: merged runs of pixel columns per
#: lane in its kind's colour (or its problem's), no label, icon, outline or media hatching.
ELEMENT_DETAIL_PX = 24.0
#: Coarse scenes at least this wide still show their right edge as a separator line.
SEPARATOR_PX = 3.0
#: More changed scenes than this repaint the whole cached layer instead of each one's columns.
MAX_PARTIAL = 64
#: Coarse colour codes: kind id (1-5) + 8 × severity (0 none, 1 warning, 2 error).
_KIND_IDS = {"text": 1, "image": 2, "video": 3, "audio": 4}
_OTHER_KIND = 5
_SEVERITY = {"warning": 1, "error": 2}


def problem_colour(palette: QPalette, severity: str) -> QColor:
    """Red for errors, amber for warnings, in shades that stand out on light and dark palettes."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    if severity == "error":
        return QColor("#ff6b6b" if dark else "#c62828")
    return QColor("#ffb74d" if dark else "#9a5b00")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def format_time(seconds: float, step: float = 0.01) -> str:
    """Ruler and readout labels: `0:05`, `1:02.5`, `1:00:00`, precise to `step`."""
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2 if step >= 0.01 else 3
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{rest:0{3 + decimals if decimals else 2}.{decimals}f}"
    if text.startswith("60"):  # 59.999 rounded up
        text = f"{0:0{3 + decimals if decimals else 2}.{decimals}f}"
        minutes += 1
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{text}"
    return f"{sign}{minutes}:{text}"


def format_seconds(value: float) -> str:
    """Durations as people read them: `5 s`, `2.5 s`, `1:05.2`."""
    if value < 60:
        return f"{value:.3f}".rstrip("0").rstrip(".") + " s"
    return format_time(value, 0.1)


# ------------------------------------------------------------------------------ the data, drawable


@dataclass(slots=True)
class _TransitionTiming:
    type: str
    duration: float


@dataclass(slots=True)
class _ElementTiming:
    start: float
    duration: float | None
    kind: str
    label: str
    src: str | None = None  # video and audio: the source whose length may end them early
    trim_start: float = 0.0
    loop: bool = False


@dataclass(slots=True)
class _SceneTiming:
    duration: float
    transition: _TransitionTiming | None
    elements: list[_ElementTiming]
    name: str | None
    valid: bool  # the duration is a usable number


@dataclass(slots=True)
class _MovieTiming:
    """What `Timeline` reads of a movie, built from raw (possibly invalid) script data."""

    scenes: list[_SceneTiming]
    fps: float = 30.0

    @property
    def total_duration(self) -> float:
        return math.fsum(scene.duration for scene in self.scenes)


def _element_timing(element: Any) -> _ElementTiming:
    if not isinstance(element, dict):
        return _ElementTiming(0.0, None, "invalid", "not an element")
    kind = element.get("type")
    kind = kind if isinstance(kind, str) else "?"
    start = _number(element.get("start"))
    duration = _number(element.get("duration"))
    if kind == "text":
        text = element.get("text")
        label = text.strip().splitlines()[0] if isinstance(text, str) and text.strip() else "text"
    else:
        src = element.get("src")
        name = src.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if isinstance(src, str) else ""
        label = name or (src if isinstance(src, str) and src else kind)
    src = element.get("src") if kind in ("video", "audio") else None
    trim = _number(element.get("trim_start"))
    return _ElementTiming(
        max(0.0, start or 0.0),
        duration if duration is not None and duration > 0 else None,
        kind,
        label,
        src if isinstance(src, str) and src else None,
        max(0.0, trim or 0.0),
        element.get("loop") is True,
    )


def _media_length(path: str) -> float | None:
    """A media file's duration in seconds (None for stills and unreadable files). Probes."""
    try:
        return probe(path).duration
    except MediaError:
        return None


def _scene_timing(scene: Any) -> _SceneTiming:
    if not isinstance(scene, dict):
        return _SceneTiming(PLACEHOLDER_SECONDS, None, [], None, False)
    duration = _number(scene.get("duration"))
    valid = duration is not None and duration > 0
    transition = scene.get("transition")
    timing = None
    if isinstance(transition, dict):
        seconds = _number(transition.get("duration"))
        kind = transition.get("type")
        if seconds is not None and seconds > 0:
            timing = _TransitionTiming(kind if isinstance(kind, str) else "?", seconds)
    elements = scene.get("elements")
    name = scene.get("name")
    return _SceneTiming(
        duration if valid and duration is not None else PLACEHOLDER_SECONDS,
        timing,
        [_element_timing(e) for e in elements] if isinstance(elements, list) else [],
        name if isinstance(name, str) and name.strip() else None,
        valid,
    )


@dataclass
class _Drag:
    """A drag in progress: what is grabbed, where it started, the value it shows now."""

    kind: str  # "scene-end" | "element-move" | "element-start" | "element-end" | "seek"
    scene: int
    element: int | None
    press_x: float
    origin_start: float = 0.0
    origin_duration: float | None = None
    started: bool = False
    start: float = 0.0
    duration: float | None = None
    snapped: float | None = None  # the absolute time snapped to, drawn as a guide


@dataclass
class _Hit:
    kind: str  # "ruler" | "scene-end" | "scene" | "element-move" | "element-start" | "element-end"
    scene: int = -1
    element: int | None = None


@dataclass
class _Problems:
    scenes: dict[int, list[Problem]] = field(default_factory=dict)
    elements: dict[tuple[int, int], list[Problem]] = field(default_factory=dict)


def _group_problems(validation: Validation | None) -> _Problems:
    groups = _Problems()
    if validation is None:
        return groups
    for problem in validation.problems:
        path = problem.path
        if len(path) < 2 or path[0] != "scenes" or not isinstance(path[1], int):
            continue
        if len(path) >= 4 and path[2] == "elements" and isinstance(path[3], int):
            groups.elements.setdefault((path[1], path[3]), []).append(problem)
        else:
            groups.scenes.setdefault(path[1], []).append(problem)
    return groups


def _tooltip(title: str, problems: list[Problem]) -> str:
    lines = [f"<b>{escape(title)}</b>"]
    for problem in problems[:10]:
        lines.append(
            f"{escape(problem.severity)}: {escape(problem.path_text)}: {escape(problem.message)}"
        )
    if len(problems) > 10:
        lines.append(f"… and {len(problems) - 10} more")
    return "<br>".join(lines)


def _severity(problems: list[Problem]) -> int:
    return _SEVERITY["error"] if any(p.is_error for p in problems) else _SEVERITY["warning"]


@dataclass(slots=True)
class _Flags:
    """What validation paints: the severity of each flagged scene and element (by position)."""

    scenes: dict[int, int] = field(default_factory=dict)
    elements: dict[tuple[int, int], int] = field(default_factory=dict)

    @classmethod
    def of(cls, problems: _Problems) -> _Flags:
        return cls(
            {i: _severity(found) for i, found in problems.scenes.items()},
            {key: _severity(found) for key, found in problems.elements.items()},
        )

    def changed_scenes(self, other: _Flags) -> set[int]:
        """The scenes whose painted flags (their own or an element's) differ in `other`."""
        rows = {i for i in self.scenes.keys() | other.scenes.keys()
                if self.scenes.get(i) != other.scenes.get(i)}  # fmt: skip
        rows |= {key[0] for key in self.elements.keys() | other.elements.keys()
                 if self.elements.get(key) != other.elements.get(key)}  # fmt: skip
        return rows


@dataclass(slots=True)
class _Lane:
    """Lane j of every scene that has an element j, as arrays for coarse drawing: the scene
    (ascending), the bar's start and end inside that scene, and its kind id."""

    scene: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray


def _element_row(element: _ElementTiming, scene_duration: float) -> tuple[float, float, int]:
    """An element's (start, end) inside its scene as `Timeline.element_span` cuts it, and kind."""
    end = scene_duration
    if element.duration is not None:
        end = min(element.start + element.duration, scene_duration)
    return element.start, end, _KIND_IDS.get(element.kind, _OTHER_KIND)


def _build_lanes(scenes: list[_SceneTiming]) -> list[_Lane]:
    rows: list[list[tuple[int, float, float, int]]] = []
    for i, scene in enumerate(scenes):
        for j, element in enumerate(scene.elements):
            if j == len(rows):
                rows.append([])
            rows[j].append((i, *_element_row(element, scene.duration)))
    lanes = []
    for lane in rows:
        columns = list(zip(*lane, strict=True))
        lanes.append(
            _Lane(
                np.array(columns[0], np.int64),
                np.array(columns[1], np.float64),
                np.array(columns[2], np.float64),
                np.array(columns[3], np.int64),
            )
        )
    return lanes


def _patch_lanes(lanes: list[_Lane], index: int, scene: _SceneTiming) -> None:
    """Update scene `index`'s entries in place (its element count must be unchanged)."""
    for j, element in enumerate(scene.elements):
        lane = lanes[j]
        k = int(np.searchsorted(lane.scene, index))
        lane.start[k], lane.end[k], lane.kind[k] = _element_row(element, scene.duration)


def _runs(
    c0: np.ndarray, c1: np.ndarray, value: np.ndarray, lo: int, hi: int
) -> list[tuple[int, int, int]]:
    """Rasterise column ranges [c0, c1) with codes `value` (> 0; the highest wins where they
    overlap) into pixel columns lo..hi-1, and merge them: (first column, end column, code)
    runs, at most one per column whatever the number of items."""
    n = hi - lo
    if n <= 0 or not len(c0):
        return []
    a = np.clip(c0, lo, hi) - lo
    b = np.clip(c1, lo, hi) - lo
    keep = b > a
    a, b, value = a[keep], b[keep], value[keep]
    if not len(a):
        return []
    lengths = b - a
    columns = np.zeros(n, np.int64)
    offsets = np.repeat(a - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    np.maximum.at(columns, offsets, np.repeat(value, lengths))
    edges = np.flatnonzero(np.diff(columns)) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [n]))
    codes = columns[starts]
    used = codes > 0
    return list(
        zip(
            (starts[used] + lo).tolist(),
            (stops[used] + lo).tolist(),
            codes[used].tolist(),
            strict=True,
        )
    )


def _flag_array(flags: dict[Any, int], lane: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted scene indices and their severities, of scene flags (`lane` None) or of lane
    `lane`'s element flags."""
    if lane is None:
        items = sorted(flags.items())
    else:
        items = sorted((key[0], sev) for key, sev in flags.items() if key[1] == lane)
    if not items:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, severities = zip(*items, strict=True)
    return np.array(rows, np.int64), np.array(severities, np.int64)


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[keys == w] for each w in `wanted` (0 where absent); `keys` ascending."""
    if not len(keys):
        return np.zeros(len(wanted), np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], 0)


class TimelineView(QAbstractScrollArea):
    """The painted timeline; see the module docstring. `zoom_changed(pps)` after every zoom."""

    zoom_changed = Signal(float)
    #: a notice for the status bar (media that could not be added)
    message = Signal(str)

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())
        self.setMinimumHeight(RULER_HEIGHT + HEADER_HEIGHT + 2 * LANE_HEIGHT + 24)
        self.snapping = True
        self._pps = 40.0
        self._user_zoomed = False
        self._scenes: list[_SceneTiming] = []  # the document's scenes, drawable
        self._known: dict[int, tuple[Any, _SceneTiming]] = {}  # id(scene data) → its timing
        self._shown: list[_SceneTiming] = []  # what is drawn: those, or a drag's preview
        self._base = Timeline(cast(Movie, _MovieTiming([])))
        self._timeline = self._base
        self._starts: list[float] = []
        self._lanes = 0
        self._problems = _group_problems(document.validation)
        self._flags = _Flags.of(self._problems)
        # the flags as sorted arrays for coarse drawing: scenes, then per lane (built lazily)
        self._flag_arrays: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}
        # The static layer (blocks, bars, labels, ruler) of the whole viewport, cached: a
        # paint blits it and draws the selection, guides and playhead over it. It is redrawn
        # whole when its key (size, scroll, zoom, palette, font) changes, and only in the
        # `_dirty` columns when some scenes' data or flags change.
        self._layer: QPixmap | None = None
        self._layer_key: tuple[Any, ...] | None = None
        self._dirty: list[QRect] = []
        # coarse-drawing arrays: scene starts and ends (of `_timeline`), per-lane bars and
        # unusable durations (of `_shown`); None: rebuilt when next painted
        self._spans: tuple[np.ndarray, np.ndarray] | None = None
        self._lane_index: list[_Lane] | None = None
        self._invalid: np.ndarray | None = None
        self._drag: _Drag | None = None
        self._selection: tuple[int, int | None] | None = None
        self._icons: dict[tuple[str, int], QIcon] = {}
        self._fit_pending = True
        self._playhead_x = 0
        self._autoscroll = QTimer(self)
        self._autoscroll.setInterval(30)
        self._autoscroll.timeout.connect(self._autoscroll_step)
        self._pointer = QPointF()
        self._pointer_modifiers = Qt.KeyboardModifier.NoModifier
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-timeline-drop", parent=self)
        #: seconds of each local video/audio source (None: unknown or unreadable), probed once
        self._lengths: dict[str, float | None] = {}
        self._paths: dict[str, str | None] = {}  # src → local file, for the folder below
        self._paths_base: FilePath | None = document.base_dir
        self._drop_at: float | None = None  # where a media drag would land (drawn as a guide)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self._rebuild(None)
        document.data_changed.connect(self._data_changed)
        document.validated.connect(self._validated)
        # relative sources resolve against the script's folder: Save As may move them
        document.file_changed.connect(self._file_changed)
        document.selection_changed.connect(self._selection_changed)
        document.playhead.time_changed.connect(self._time_changed)
        self._selection_changed(*document.selection)

    # ------------------------------------------------------------------------ model

    @property
    def timeline(self) -> Timeline:
        """Timing of what is drawn (the document's data, or the drag being previewed)."""
        return self._timeline

    @property
    def pixels_per_second(self) -> float:
        return self._pps

    @property
    def selected(self) -> tuple[int, int | None] | None:
        """The highlighted (scene, element or None), following `document.selection`."""
        return self._selection

    def _file_changed(self) -> None:
        self._probe_sources(self._scenes)

    def _data_changed(self, paths: tuple[Path, ...]) -> None:
        if any(p == () for p in paths):
            self._known.clear()
            self._rebuild(None)
            if self.document.undo_stack.count() == 0:  # a document was loaded: show all of it
                self._user_zoomed = False
            if not self._user_zoomed:
                self._fit_pending = True
                QTimer.singleShot(0, self._fit_if_pending)
            return
        if any(p == ("scenes",) for p in paths):
            if any(p != ("scenes",) for p in paths):
                # a step that also edits inside scenes: their positions may have shifted
                # between its changes, so trust no remembered timing
                self._known.clear()
            self._rebuild(None)
            return
        rows = {p[1] for p in paths if len(p) >= 2 and p[0] == "scenes" and isinstance(p[1], int)}
        if rows:
            self._rebuild(rows)

    def _rebuild(self, rows: Iterable[int] | None) -> None:
        """Re-read scene timings: all of them, or only `rows` (the scenes an edit touched)."""
        scenes = self.document.value(("scenes",))
        scenes = scenes if isinstance(scenes, list) else []
        if rows is None or len(scenes) != len(self._scenes):
            # a reorder, insert or removal keeps the other scene objects: reuse their timing
            # (edits inside a scene always name it in their paths and are re-read below)
            known = self._known
            self._scenes = []
            for scene in scenes:
                entry = known.get(id(scene))
                timing = entry[1] if entry is not None and entry[0] is scene else None
                self._scenes.append(timing or _scene_timing(scene))
            self._known = {id(s): (s, t) for s, t in zip(scenes, self._scenes, strict=True)}
        else:
            self._scenes = list(self._scenes)  # a new list: `_show` compares with the old one
            for row in rows:
                if 0 <= row < len(scenes):
                    self._scenes[row] = _scene_timing(scenes[row])
                    self._known[id(scenes[row])] = (scenes[row], self._scenes[row])
        if self._drag is not None and self._drag.kind != "seek":
            self._drag = None  # the data changed under the drag (an undo): drop it
        self._base = self._timing(self._scenes)
        self._show(self._scenes, self._base)
        self._probe_sources(
            self._scenes
            if rows is None
            else [self._scenes[r] for r in rows if 0 <= r < len(self._scenes)]
        )

    def _timing(self, scenes: list[_SceneTiming]) -> Timeline:
        fps = _number(self.document.value(("fps",))) or 30.0
        return Timeline(cast(Movie, _MovieTiming(scenes, fps if fps > 0 else 30.0)))

    def _show(self, scenes: list[_SceneTiming], timeline: Timeline) -> None:
        old_scenes, old_timeline = self._shown, self._timeline
        self._shown = scenes
        self._timeline = timeline
        self._starts = [span.start for span in self._timeline.scenes]
        self._lanes = max((len(s.elements) for s in scenes), default=0)
        self._spans = None
        self._update_scrollbars()
        self._invalidate_changes(old_scenes, old_timeline)

    def _invalidate_changes(self, old: list[_SceneTiming], old_timeline: Timeline) -> None:
        """Mark what changed from `old` to `_shown` for repainting: the columns of each scene
        whose timing is a new object (an edit makes one, an untouched scene keeps its own);
        from the first one whose length changed, everything to its right (it all moved)."""
        new = self._shown
        if len(old) != len(new):
            self._lane_index = self._invalid = None
            self.invalidate_cache()
            return
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a is not b]
        if not changed:
            return
        if len(changed) > MAX_PARTIAL:
            self._lane_index = self._invalid = None
            self.invalidate_cache()
            return
        if self._lane_index is not None and self._invalid is not None:
            if all(len(old[i].elements) == len(new[i].elements) for i in changed):
                for i in changed:
                    _patch_lanes(self._lane_index, i, new[i])
                    self._invalid[i] = not new[i].valid
            else:
                self._lane_index = self._invalid = None
        moved = [i for i in changed if old[i].duration != new[i].duration]
        if moved:
            x = self.t2x(min(self._timeline.scenes[moved[0]].start,
                             old_timeline.scenes[moved[0]].start))  # fmt: skip
            self._invalidate_columns(x, self.viewport().width())
        for i in changed:
            for timeline, scene in ((old_timeline, old[i]), (self._timeline, new[i])):
                self._invalidate_columns(*self._scene_extent(timeline, scene, i))

    def _scene_extent(self, timeline: Timeline, scene: _SceneTiming, i: int) -> tuple[float, float]:
        """The viewport x range scene `i` paints in (a long transition's wedge reaches past
        its end)."""
        span = timeline.scenes[i]
        end = span.end
        if scene.transition is not None:
            end = max(end, span.start + scene.transition.duration)
        return self.t2x(span.start), self.t2x(end)

    def _invalidate_columns(self, x0: float, x1: float) -> None:
        """Redraw the cached layer between viewport x `x0` and `x1` (whole height) and show it."""
        width, height = self.viewport().width(), self.viewport().height()
        left, right = max(0, math.floor(x0) - 3), min(width, math.ceil(x1) + 4)
        if right <= left:
            return
        rect = QRect(left, 0, right - left, height)
        if self._layer_key is not None:
            self._dirty.append(rect)
        self.viewport().update(rect)

    def invalidate_cache(self) -> None:
        """Redraw the whole cached layer at the next paint (and schedule that paint)."""
        self._layer_key = None
        self._dirty.clear()
        self.viewport().update()

    def _validated(self, validation: Validation) -> None:
        self._problems = _group_problems(validation)
        flags = _Flags.of(self._problems)
        rows = self._flags.changed_scenes(flags)
        self._flags = flags
        if not rows:
            return  # nothing the timeline paints changed: no repaint (tooltips read _problems)
        self._flag_arrays.clear()
        if len(rows) > MAX_PARTIAL or max(rows) >= len(self._shown):
            self.invalidate_cache()
            return
        for i in rows:
            self._invalidate_columns(*self._scene_extent(self._timeline, self._shown[i], i))

    def _selection_changed(self, path: Path | None, _focus: Path | None) -> None:
        selection: tuple[int, int | None] | None = None
        if path and len(path) >= 2 and path[0] == "scenes" and isinstance(path[1], int):
            element = None
            if len(path) >= 4 and path[2] == "elements" and isinstance(path[3], int):
                element = path[3]
            selection = (path[1], element)
        if selection != self._selection:
            self._selection = selection
            if selection is not None:
                self._ensure_scene_visible(selection[0])
            self.viewport().update()

    # ------------------------------------------------------------------------ geometry

    def t2x(self, t: float) -> float:
        """Viewport x of time `t`."""
        return LEFT_PAD + t * self._pps - self.horizontalScrollBar().value()

    def x2t(self, x: float) -> float:
        return (x + self.horizontalScrollBar().value() - LEFT_PAD) / self._pps

    def _content_width(self) -> int:
        return int(LEFT_PAD + self._timeline.total * self._pps + RIGHT_PAD)

    def _content_height(self) -> int:
        return RULER_HEIGHT + HEADER_HEIGHT + self._lanes * LANE_HEIGHT + LANE_GAP + BOTTOM_PAD

    def _lane_top(self, lane: int) -> int:
        return (
            RULER_HEIGHT
            + HEADER_HEIGHT
            + LANE_GAP
            + lane * LANE_HEIGHT
            - self.verticalScrollBar().value()
        )

    def _update_scrollbars(self) -> None:
        view = self.viewport().size()
        h = self.horizontalScrollBar()
        h.setRange(0, max(0, self._content_width() - view.width()))
        h.setPageStep(max(1, view.width()))
        h.setSingleStep(40)
        v = self.verticalScrollBar()
        v.setRange(0, max(0, self._content_height() - view.height()))
        v.setPageStep(max(1, view.height()))
        v.setSingleStep(LANE_HEIGHT)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._update_scrollbars()
        self._fit_if_pending()

    def scene_rect(self, index: int) -> QRectF:
        """The scene block (header and lanes) in viewport coordinates."""
        span = self._timeline.scenes[index]
        x0, x1 = self.t2x(span.start), self.t2x(span.end)
        return QRectF(x0, RULER_HEIGHT, x1 - x0, self.viewport().height() - RULER_HEIGHT)

    def element_rect(self, scene: int, element: int) -> QRectF:
        """An element bar in viewport coordinates (its lane is its index in the scene)."""
        span = self._timeline.element_span(scene, element)
        scene_end = self.t2x(self._timeline.scenes[scene].end)
        # an element starting after its scene ends (an error) stays a sliver at that end
        x0 = min(self.t2x(span.start), scene_end - 3)
        x1 = self.t2x(max(span.end, span.start))
        x1 = min(max(x1, x0 + 3), max(scene_end, x0 + 3))
        top = self._lane_top(element)
        return QRectF(x0, top + 1, x1 - x0, LANE_HEIGHT - 3)

    def _visible_scenes(self, left: float = 0, right: float | None = None) -> range:
        """The scenes between viewport x `left` and `right` (default: the whole width)."""
        if not self._starts:
            return range(0)
        if right is None:
            right = self.viewport().width()
        first = max(0, bisect.bisect_right(self._starts, self.x2t(left)) - 1)
        last = bisect.bisect_right(self._starts, self.x2t(right))
        return range(first, min(last, len(self._starts)))

    # ------------------------------------------------------------------------ zoom and scroll

    def set_zoom(self, pps: float, anchor_x: float | None = None, user: bool = True) -> None:
        """Pixels per second, keeping the time under `anchor_x` (default: the centre) in place."""
        pps = min(max(pps, MIN_PPS), MAX_PPS)
        if anchor_x is None:
            anchor_x = self.viewport().width() / 2
        anchor_t = self.x2t(anchor_x)
        self._pps = pps
        if user:  # the user's zoom wins over a pending zoom-to-fit
            self._user_zoomed = True
            self._fit_pending = False
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(round(LEFT_PAD + anchor_t * pps - anchor_x))
        self.viewport().update()
        self.zoom_changed.emit(pps)

    def zoom_in(self) -> None:
        self.set_zoom(self._pps * ZOOM_STEP, self._playhead_anchor())

    def zoom_out(self) -> None:
        self.set_zoom(self._pps / ZOOM_STEP, self._playhead_anchor())

    def _playhead_anchor(self) -> float | None:
        x = self.t2x(self.document.playhead.time)
        return x if 0 <= x <= self.viewport().width() else None

    def zoom_to_fit(self) -> None:
        """The whole movie across the visible width."""
        width = self.viewport().width() - LEFT_PAD - 24
        total = self._timeline.total
        if total <= 0 or width <= 0:
            return
        self._pps = min(max(width / total, MIN_PPS), MAX_PPS)
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(0)
        self.viewport().update()
        self.zoom_changed.emit(self._pps)

    def _fit_if_pending(self) -> None:
        if self._user_zoomed:
            self._fit_pending = False
        if self._fit_pending and self.viewport().width() > 50 and self.isVisible():
            self._fit_pending = False
            self.zoom_to_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120 if delta.y() else delta.x() / 120
            self.set_zoom(self._pps * ZOOM_STEP**steps, event.position().x())
            event.accept()
            return
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            v.setValue(v.value() - delta.y() // 2)
        else:
            dx = delta.x() if delta.x() else delta.y()
            h.setValue(h.value() - dx)
        event.accept()

    def _ensure_scene_visible(self, index: int) -> None:
        if not 0 <= index < len(self._timeline.scenes):
            return
        span = self._timeline.scenes[index]
        x0, x1 = self.t2x(span.start), self.t2x(span.end)
        width = self.viewport().width()
        if x1 < 0 or x0 > width:
            h = self.horizontalScrollBar()
            h.setValue(round(h.value() + x0 - width * 0.1))

    def _time_changed(self, t: float) -> None:
        x = self.t2x(t)
        width = self.viewport().width()
        seeking = self._drag is not None and self._drag.kind == "seek"
        if not seeking and (x < 0 or x > width - 12):
            h = self.horizontalScrollBar()
            if self.document.playhead.playing:  # page along, as editors do during playback
                h.setValue(round(h.value() + x - width * 0.05))
            else:
                h.setValue(round(h.value() + x - width * 0.3))
        # repaint only the strips the playhead leaves and enters (cheap at 60 fps)
        height = self.viewport().height()
        new_x = round(self.t2x(t))
        for strip_x in {self._playhead_x, new_x}:
            self.viewport().update(QRect(strip_x - 8, 0, 16, height))
        self._playhead_x = new_x

    # ------------------------------------------------------------------------ painting

    def _icon(self, kind: str, colour: QColor) -> QIcon:
        key = (kind, colour.rgba())
        cached = self._icons.get(key)
        if cached is None:
            cached = qtawesome.icon(KIND_ICONS.get(kind, "mdi6.help-circle-outline"), color=colour)
            self._icons[key] = cached
        return cached

    def paintEvent(self, event: QPaintEvent) -> None:
        exposed = event.rect()
        layer = self._static_layer()
        painter = QPainter(self.viewport())
        try:
            ratio = layer.devicePixelRatio()
            source = QRectF(
                exposed.x() * ratio,
                exposed.y() * ratio,
                exposed.width() * ratio,
                exposed.height() * ratio,
            )
            painter.drawPixmap(QRectF(exposed), layer, source)
            painter.setClipRect(exposed)
            self._paint_overlays(painter)
        finally:
            painter.end()

    def _static_layer(self) -> QPixmap:
        """The cached layer, brought up to date: whole when its key changed, else its dirty
        columns only (an edit of one scene redraws that scene's few pixels)."""
        viewport = self.viewport()
        ratio = viewport.devicePixelRatioF()
        key = (
            viewport.width(),
            viewport.height(),
            ratio,
            self.horizontalScrollBar().value(),
            self.verticalScrollBar().value(),
            self._pps,
            self.palette().cacheKey(),
            self.font().key(),
        )
        if self._layer is None or key != self._layer_key:
            if self._layer is None or self._layer_key is None or key[:3] != self._layer_key[:3]:
                self._layer = QPixmap(
                    max(1, math.ceil(viewport.width() * ratio)),
                    max(1, math.ceil(viewport.height() * ratio)),
                )
                self._layer.setDevicePixelRatio(ratio)
            self._layer_key = key
            self._dirty = [viewport.rect()]
        if self._dirty:
            dirty = self._dirty
            if len(dirty) > 16:  # many small edits at once: one pass over their span
                union = QRect(dirty[0])
                for rect in dirty[1:]:
                    union = union.united(rect)
                dirty = [union]
            self._dirty = []
            painter = QPainter(self._layer)
            try:
                for rect in dirty:
                    self._paint_layer(painter, rect.intersected(viewport.rect()))
            finally:
                painter.end()
        return self._layer

    def _span_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every scene's start and end (seconds, as drawn), as arrays."""
        if self._spans is None:
            starts = np.array(self._starts, np.float64)
            ends = np.empty_like(starts)
            if len(starts):
                ends[:-1] = starts[1:]  # Timeline starts each scene where the last one ended
                ends[-1] = self._timeline.scenes[-1].end
            self._spans = (starts, ends)
        return self._spans

    def _lane_arrays(self) -> tuple[list[_Lane], np.ndarray]:
        if self._lane_index is None or self._invalid is None:
            self._lane_index = _build_lanes(self._shown)
            self._invalid = np.array([not s.valid for s in self._shown], np.bool_)
        return self._lane_index, self._invalid

    def _flag_array(self, lane: int | None) -> tuple[np.ndarray, np.ndarray]:
        cached = self._flag_arrays.get(lane)
        if cached is None:
            flags = self._flags.scenes if lane is None else self._flags.elements
            cached = self._flag_arrays[lane] = _flag_array(flags, lane)
        return cached

    def _paint(self, painter: QPainter, exposed: QRect) -> None:
        """Paint what lies in `exposed` without the cache: the static layer, then the
        overlays (tests and diagnostics compare this with the cached picture)."""
        self._paint_layer(painter, exposed)
        painter.setClipRect(exposed)
        self._paint_overlays(painter)

    def _paint_layer(self, painter: QPainter, exposed: QRect) -> None:
        """Paint the static layer in `exposed`: scene blocks, element bars and the ruler.

        What is wider than a few pixels is drawn in detail (labels, wedges, outlines); what is
        narrower is rasterised into pixel columns and drawn as merged runs, so the cost is
        bounded by the pixels painted, not by how many scenes and elements they show."""
        palette = self.palette()
        height = self.viewport().height()
        left, right = exposed.left() - 2, exposed.right() + 2
        painter.save()
        painter.setClipRect(exposed)
        painter.fillRect(exposed, palette.color(QPalette.ColorRole.Base))
        font = self.font()
        painter.setFont(font)
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        metrics = QFontMetrics(font)
        drag = self._drag
        dragged = (drag.scene, drag.element) if drag and drag.started else None

        in_view = self._visible_scenes(left, right)
        first, last = in_view.start, in_view.stop
        starts, ends = self._span_arrays()
        lanes, invalid = self._lane_arrays()
        h_value = self.horizontalScrollBar().value()
        origin = LEFT_PAD - h_value
        if last > first:
            x0 = origin + starts[first:last] * self._pps
            x1 = origin + ends[first:last] * self._pps
            detailed = (x1 - x0) >= SCENE_DETAIL_PX
            if not detailed.all():
                coarse = np.flatnonzero(~detailed)
                self._paint_coarse_scenes(
                    painter, exposed, coarse + first, x0[coarse], x1[coarse], invalid, palette
                )
            for k in np.flatnonzero(detailed).tolist():
                self._paint_scene(painter, first + k, palette)

        # element bars, in their lanes below the headers (only the lanes in view)
        lanes_top = RULER_HEIGHT + HEADER_HEIGHT
        painter.save()
        painter.setClipRect(
            QRectF(0, lanes_top, self.viewport().width(), height - lanes_top),
            Qt.ClipOperation.IntersectClip,
        )
        first_lane = max(0, math.floor((lanes_top - self._lane_top(0)) / LANE_HEIGHT))
        last_lane = math.ceil((height - self._lane_top(0)) / LANE_HEIGHT)
        if last > first:
            for j in range(first_lane, min(last_lane + 1, len(lanes))):
                self._paint_lane(
                    painter, exposed, j, lanes[j], first, last, origin, dragged, metrics, palette
                )
        painter.restore()
        self._paint_ruler(painter, left, right, small)
        painter.restore()

    def _paint_coarse_scenes(
        self,
        painter: QPainter,
        exposed: QRect,
        rows: np.ndarray,
        x0: np.ndarray,
        x1: np.ndarray,
        invalid: np.ndarray,
        palette: QPalette,
    ) -> None:
        """Scenes too narrow for detail: header columns (problem colour over unusable
        duration over plain), and a separator at each edge that is far enough from the last."""
        lo, hi = exposed.left(), exposed.right() + 1
        c0 = np.floor(x0).astype(np.int64)
        c1 = np.maximum(c0 + 1, np.floor(x1).astype(np.int64))
        flagged, severity = self._flag_array(None)
        code = np.where(invalid[rows], 2, 1)
        flag = _lookup(flagged, severity, rows)
        code = np.where(flag > 0, flag + 2, code)  # 3 warning, 4 error
        header_fill = palette.color(QPalette.ColorRole.Button)
        unusable = QColor(problem_colour(palette, "error"))
        # the detailed block's hatch: the header colour at 120/255 over the error colour
        mix = 120 / 255
        unusable = QColor(
            round(unusable.red() * (1 - mix) + header_fill.red() * mix),
            round(unusable.green() * (1 - mix) + header_fill.green() * mix),
            round(unusable.blue() * (1 - mix) + header_fill.blue() * mix),
        )
        colours = {
            1: header_fill,
            2: unusable,
            3: problem_colour(palette, "warning"),
            4: problem_colour(palette, "error"),
        }
        top, band = RULER_HEIGHT + 1, HEADER_HEIGHT - 2
        for start, stop, value in _runs(c0, c1, code, lo, hi):
            painter.fillRect(QRect(start, top, stop - start, band), colours[value])
        edges = np.floor(x1[(x1 - x0) >= SEPARATOR_PX]).astype(np.int64)
        if len(edges):
            height = self.viewport().height() - RULER_HEIGHT
            mid = palette.color(QPalette.ColorRole.Mid)
            ones = np.ones(len(edges), np.int64)
            for start, stop, _value in _runs(edges, edges + 1, ones, lo, hi):
                painter.fillRect(QRect(start, RULER_HEIGHT, stop - start, height), mid)

    def _paint_scene(self, painter: QPainter, i: int, palette: QPalette) -> None:
        """One scene block in detail: band, header, edge, transition wedge, label, problems."""
        height = self.viewport().height()
        width = self.viewport().width()
        highlight = palette.color(QPalette.ColorRole.Highlight)
        header_fill = palette.color(QPalette.ColorRole.Button)
        scene = self._shown[i]
        span = self._timeline.scenes[i]
        x0, x1 = self.t2x(span.start), self.t2x(span.end)
        block = QRectF(x0, RULER_HEIGHT, max(1.0, x1 - x0), height - RULER_HEIGHT)
        if i % 2:
            painter.fillRect(block, palette.color(QPalette.ColorRole.AlternateBase))
        header = QRectF(x0, RULER_HEIGHT, max(1.0, x1 - x0), HEADER_HEIGHT)
        painter.fillRect(header.adjusted(0.5, 1, -0.5, -1), header_fill)
        if not scene.valid:  # duration unusable: hatched placeholder
            painter.fillRect(
                header.adjusted(0.5, 1, -0.5, -1),
                problem_colour(palette, "error").lighter(100),
            )
            painter.fillRect(
                header.adjusted(0.5, 1, -0.5, -1),
                QColor(header_fill.red(), header_fill.green(), header_fill.blue(), 120),
            )
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(QPointF(x1, RULER_HEIGHT), QPointF(x1, height))
        # transition: a wedge over its first seconds, the outgoing scene blending in
        transition = span.transition
        if transition is not None and i > 0:
            tw = transition.duration * self._pps
            wedge = QPolygonF(
                [
                    QPointF(x0, header.bottom() - 1),
                    QPointF(x0 + tw, header.top() + 1),
                    QPointF(x0 + tw, header.bottom() - 1),
                ]
            )
            fill = QColor(highlight)
            fill.setAlpha(70)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawPolygon(wedge)
            back = QColor(highlight)
            back.setAlpha(110)
            painter.setPen(QPen(back, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x0 + tw, header.top() + 1), QPointF(x0 + tw, height))
        # header label: name · duration
        name = scene.name or f"Scene {i + 1}"
        label = f"{name}  {format_seconds(span.duration) if scene.valid else 'no valid duration'}"
        # the label stays in view while its block is scrolled partly out (sticky)
        inner = QRectF(header)
        inner.setLeft(max(header.left(), 0) + 6)
        inner.setRight(min(header.right(), width) - 6)
        if inner.width() > 16:
            bold = QFont(self.font())
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            elided = QFontMetrics(bold).elidedText(
                label, Qt.TextElideMode.ElideRight, int(inner.width())
            )
            painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter, elided)
            painter.setFont(self.font())
        # problems on the scene block
        problems = self._problems.scenes.get(i)
        if problems:
            severity = "error" if any(p.is_error for p in problems) else "warning"
            painter.setPen(QPen(problem_colour(palette, severity), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(header.adjusted(1, 2, -1, -2))

    def _paint_lane(
        self,
        painter: QPainter,
        exposed: QRect,
        j: int,
        lane: _Lane,
        first: int,
        last: int,
        origin: float,
        dragged: tuple[int, int | None] | None,
        metrics: QFontMetrics,
        palette: QPalette,
    ) -> None:
        """Lane `j` of scenes first..last-1: narrow bars as merged pixel-column runs (in their
        problem's colour when flagged), wide ones in detail."""
        k0, k1 = np.searchsorted(lane.scene, [first, last]).tolist()
        if k1 <= k0:
            return
        rows = lane.scene[k0:k1]
        starts, ends = self._span_arrays()
        pps = self._pps
        scene_start = starts[rows]
        scene_end = origin + ends[rows] * pps
        bar_start = origin + (scene_start + lane.start[k0:k1]) * pps
        bar_end = origin + (scene_start + np.maximum(lane.end[k0:k1], lane.start[k0:k1])) * pps
        # as `element_rect`: a bar starting past its scene's end stays a sliver at that end
        x0 = np.minimum(bar_start, scene_end - 3)
        x1 = np.minimum(np.maximum(bar_end, x0 + 3), np.maximum(scene_end, x0 + 3))
        detailed = (x1 - x0) >= ELEMENT_DETAIL_PX
        top = self._lane_top(j)
        if not detailed.all():
            coarse = np.flatnonzero(~detailed)
            # true extents here (at least one column): slivers would smear at fit zoom
            cx0 = np.minimum(bar_start[coarse], scene_end[coarse] - 1)
            cx1 = np.minimum(bar_end[coarse], scene_end[coarse])
            c0 = np.floor(cx0).astype(np.int64)
            c1 = np.maximum(c0 + 1, np.ceil(cx1).astype(np.int64))
            c1 = np.where(c1 - c0 >= 4, c1 - 1, c1)  # a gap between bars wide enough for one
            flagged, severity = self._flag_array(j)
            code = lane.kind[k0:k1][coarse] + 8 * _lookup(flagged, severity, rows[coarse])
            colours: dict[int, QColor] = {}
            for start, stop, value in _runs(c0, c1, code, exposed.left(), exposed.right() + 1):
                colour = colours.get(value)
                if colour is None:
                    if value > 8:
                        colour = problem_colour(palette, "error" if value > 16 else "warning")
                    else:
                        kind = next((k for k, n in _KIND_IDS.items() if n == value), "")
                        colour = QColor(KIND_COLOURS.get(kind, "#7a7a7a"))
                    colours[value] = colour
                painter.fillRect(QRect(start, top + 1, stop - start, LANE_HEIGHT - 3), colour)
        for k in np.flatnonzero(detailed).tolist():
            i = int(rows[k])
            rect = self.element_rect(i, j)
            self._paint_element(
                painter, rect, self._shown[i].elements[j], i, j, (i, j) == dragged, metrics
            )

    def _paint_overlays(self, painter: QPainter) -> None:
        """What changes without the data: the selection, drag and drop guides, the playhead."""
        palette = self.palette()
        height = self.viewport().height()
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        selection = self._selection
        if selection is not None and 0 <= selection[0] < len(self._shown):
            i, j = selection
            if j is None:
                span = self._timeline.scenes[i]
                x0, x1 = self.t2x(span.start), self.t2x(span.end)
                block = QRectF(x0, RULER_HEIGHT, max(1.0, x1 - x0), height - RULER_HEIGHT)
                painter.setPen(QPen(highlight, 2))
                painter.drawRect(block.adjusted(1, 1, -1, -1))
            elif 0 <= j < len(self._shown[i].elements):
                lanes_top = RULER_HEIGHT + HEADER_HEIGHT
                painter.save()
                painter.setClipRect(
                    QRectF(0, lanes_top, self.viewport().width(), height - lanes_top),
                    Qt.ClipOperation.IntersectClip,
                )
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 2))
                painter.drawRoundedRect(self.element_rect(i, j).adjusted(-1, -1, 1, 1), 4, 4)
                painter.restore()
        drag = self._drag
        if drag is not None and drag.started and drag.kind == "scene-end":
            x1 = self.t2x(self._timeline.scenes[drag.scene].end)
            painter.setPen(QPen(highlight, 3))
            painter.drawLine(QPointF(x1 - 1, RULER_HEIGHT), QPointF(x1 - 1, height))
        if drag is not None and drag.started and drag.snapped is not None:
            guide = QColor(highlight)
            painter.setPen(QPen(guide, 1, Qt.PenStyle.DashLine))
            sx = self.t2x(drag.snapped)
            painter.drawLine(QPointF(sx, RULER_HEIGHT), QPointF(sx, height))
        if self._drop_at is not None:  # where dropped media would start
            painter.setPen(QPen(highlight, 2))
            dx = self.t2x(self._drop_at)
            painter.drawLine(QPointF(dx, RULER_HEIGHT), QPointF(dx, height))
        self._paint_playhead(painter, height)

    def _paint_element(
        self,
        painter: QPainter,
        rect: QRectF,
        element: _ElementTiming,
        scene: int,
        index: int,
        dragging: bool,
        metrics: QFontMetrics,
    ) -> None:
        palette = self.palette()
        colour = QColor(KIND_COLOURS.get(element.kind, "#7a7a7a"))
        if dragging:
            colour = colour.lighter(120)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.drawRoundedRect(rect, 3, 3)
        inner = rect.adjusted(4, 0, -4, 0)
        inner.setLeft(max(inner.left(), 4))  # sticky label
        inner.setRight(min(inner.right(), self.viewport().width() - 4))
        if inner.width() > 18:
            white = QColor(255, 255, 255)
            self._icon(element.kind, white).paint(
                painter, QRect(int(inner.left()), int(rect.center().y()) - 7, 14, 14)
            )
            text_rect = inner.adjusted(18, 0, 0, 0)
            if text_rect.width() > 8:
                painter.setPen(white)
                painter.drawText(
                    text_rect,
                    Qt.AlignmentFlag.AlignVCenter,
                    metrics.elidedText(
                        element.label, Qt.TextElideMode.ElideRight, int(text_rect.width())
                    ),
                )
        media_end = self.media_end(scene, index)
        if media_end is not None:  # past the source's end: over, held (video) or silent (audio)
            tail = QRectF(rect)
            tail.setLeft(max(rect.left(), self.t2x(media_end)))
            shade = QColor(palette.color(QPalette.ColorRole.Base))
            shade.setAlpha(150)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(shade)
            painter.drawRect(tail)
            hatch = QColor(colour)
            painter.setBrush(QBrush(hatch, Qt.BrushStyle.BDiagPattern))
            painter.drawRect(tail)
        problems = self._problems.elements.get((scene, index))
        if problems:
            severity = "error" if any(p.is_error for p in problems) else "warning"
            painter.setPen(QPen(problem_colour(palette, severity), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 3, 3)

    def tick_step(self) -> tuple[float, float]:
        """Major and minor tick spacing (seconds) so labels sit about 90 px apart."""
        steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
                 1800, 3600, 7200]  # fmt: skip
        major = next((s for s in steps if s * self._pps >= 90), steps[-1])
        for divisions in (10, 5, 4, 2, 1):
            if major / divisions * self._pps >= 8:
                return major, major / divisions
        return major, major

    def _paint_ruler(self, painter: QPainter, left: float, right: float, font: QFont) -> None:
        palette = self.palette()
        band = QRectF(left, 0, right - left, RULER_HEIGHT)
        painter.fillRect(band, palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(QPointF(left, RULER_HEIGHT - 1), QPointF(right, RULER_HEIGHT - 1))
        major, minor = self.tick_step()
        t0 = max(0.0, self.x2t(left - 130))  # a label reaches ~120 px right of its tick
        t1 = self.x2t(right)
        painter.setFont(font)
        first = math.floor(t0 / minor)
        last = math.ceil(t1 / minor)
        per_major = max(1, round(major / minor))
        soft = QColor(text)
        soft.setAlpha(140)
        for n in range(first, last + 1):
            t = n * minor
            if t < 0:
                continue
            x = round(self.t2x(t)) + 0.5
            if n % per_major == 0:
                painter.setPen(QPen(text, 1))
                painter.drawLine(QPointF(x, RULER_HEIGHT - 10), QPointF(x, RULER_HEIGHT - 1))
                painter.drawText(
                    QRectF(x + 3, 0, 120, RULER_HEIGHT - 8),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    format_time(t, major),
                )
            else:
                painter.setPen(QPen(soft, 1))
                painter.drawLine(QPointF(x, RULER_HEIGHT - 5), QPointF(x, RULER_HEIGHT - 1))
        end = self.t2x(self._timeline.total)
        if left <= end <= right:
            painter.setPen(QPen(text, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(end, 0), QPointF(end, RULER_HEIGHT))

    def _paint_playhead(self, painter: QPainter, height: int) -> None:
        x = self.t2x(self.document.playhead.time)
        if x < -8 or x > self.viewport().width() + 8:
            return
        colour = QColor(PLAYHEAD_COLOUR)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # a crisp 2 px line
        painter.fillRect(QRectF(round(x) - 1, RULER_HEIGHT - 6, 2, height), colour)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(x - 6, RULER_HEIGHT - 12),
                    QPointF(x + 6, RULER_HEIGHT - 12),
                    QPointF(x, RULER_HEIGHT - 4),
                ]
            )
        )

    # ------------------------------------------------------------------------ hit testing

    def hit(self, pos: QPointF | QPoint) -> _Hit | None:
        x, y = pos.x(), pos.y()
        if y < RULER_HEIGHT:
            return _Hit("ruler")
        if not self._starts:
            return None
        t = self.x2t(x)
        index = max(0, bisect.bisect_right(self._starts, t) - 1)
        in_header = y < RULER_HEIGHT + HEADER_HEIGHT
        # a scene's right edge: in the header, this scene's or the previous one's
        for k in (index, index - 1):
            if (
                in_header
                and 0 <= k < len(self._starts)
                and abs(self.t2x(self._timeline.scenes[k].end) - x) <= EDGE_PX
            ):
                return _Hit("scene-end", k)
        if index >= len(self._shown) or t > self._timeline.total:
            return None
        if not in_header:
            lane = math.floor((y - self._lane_top(0)) / LANE_HEIGHT)
            if 0 <= lane < len(self._shown[index].elements):
                rect = self.element_rect(index, lane)
                if rect.left() - EDGE_PX / 2 <= x <= rect.right() + EDGE_PX / 2:
                    edge = min(EDGE_PX, rect.width() / 3)
                    if x >= rect.right() - edge:
                        return _Hit("element-end", index, lane)
                    if x <= rect.left() + edge:
                        return _Hit("element-start", index, lane)
                    return _Hit("element-move", index, lane)
        return _Hit("scene", index)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self._drag is None:
            help_event = event
            pos = self.viewport().mapFromGlobal(help_event.globalPos())  # type: ignore[attr-defined]
            text = self.tooltip_at(QPointF(pos))
            if text:
                QToolTip.showText(help_event.globalPos(), text, self.viewport())  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def tooltip_at(self, pos: QPointF) -> str:
        hit = self.hit(pos)
        if hit is None or hit.kind == "ruler":
            return ""
        if hit.element is not None:
            element = self._shown[hit.scene].elements[hit.element]
            bar = self._timeline.element_span(hit.scene, hit.element)
            offset = self._timeline.scenes[hit.scene].start
            title = (
                f"{describe(('scenes', hit.scene, 'elements', hit.element))}: {element.kind} "
                f"“{element.label}” {format_time(bar.start - offset)}"
                f"–{format_time(bar.end - offset)}"
            )
            media_end = self.media_end(hit.scene, hit.element)
            if media_end is not None:
                if element.duration is None:
                    held = "ends"
                else:
                    held = "holds its last frame" if element.kind == "video" else "is silent"
                title += f"; its source ends at {format_time(media_end - offset)}, then it {held}"
            return _tooltip(title, self._problems.elements.get((hit.scene, hit.element), []))
        scene = self._shown[hit.scene]
        span = self._timeline.scenes[hit.scene]
        title = f"{scene.name or f'Scene {hit.scene + 1}'}: {format_time(span.duration)}"
        if span.transition is not None and hit.scene > 0:
            title += f", {span.transition.type} {format_time(span.transition.duration)}"
        return _tooltip(title, self._problems.scenes.get(hit.scene, []))

    # ------------------------------------------------------------------------ mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        pos = event.position()
        hit = self.hit(pos)
        if hit is None:
            return
        if hit.kind == "ruler":
            self._drag = _Drag("seek", -1, None, pos.x(), started=True)
            self._seek_to(pos.x())
            return
        if hit.element is not None:
            self.document.select(("scenes", hit.scene, "elements", hit.element))
        else:
            self.document.select(("scenes", hit.scene))
        if hit.kind == "scene":
            return
        drag = _Drag(hit.kind, hit.scene, hit.element, pos.x())
        if hit.element is not None:
            element = self._scenes[hit.scene].elements[hit.element]
            drag.origin_start, drag.origin_duration = element.start, element.duration
        else:
            drag.origin_duration = self._scenes[hit.scene].duration
        drag.start, drag.duration = drag.origin_start, drag.origin_duration
        self._drag = drag

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        drag = self._drag
        if drag is None:
            self._update_cursor(pos)
            return
        if drag.kind == "seek":
            self._seek_to(pos.x())
            return
        if not drag.started:
            if abs(pos.x() - drag.press_x) < QApplication.startDragDistance():
                return
            drag.started = True
        self._pointer = QPointF(pos)
        self._pointer_modifiers = event.modifiers()
        self._drag_step(event.globalPosition().toPoint())
        near_edge = pos.x() < 16 or pos.x() > self.viewport().width() - 16
        if near_edge and not self._autoscroll.isActive():
            self._autoscroll.start()
        elif not near_edge:
            self._autoscroll.stop()

    def _drag_step(self, global_pos: QPoint | None = None) -> None:
        drag = self._drag
        if drag is None or not drag.started:
            return
        shift = bool(self._pointer_modifiers & Qt.KeyboardModifier.ShiftModifier)
        self._drag_to(drag, self._pointer.x(), snap=self.snapping and not shift)
        if global_pos is None:
            global_pos = self.viewport().mapToGlobal(self._pointer.toPoint())
        QToolTip.showText(global_pos + QPoint(14, 18), self._drag_text(drag), self.viewport())

    def _autoscroll_step(self) -> None:
        """While a drag holds the pointer at a viewport edge, scroll on and follow it."""
        drag = self._drag
        if drag is None or drag.kind == "seek" or not drag.started:
            self._autoscroll.stop()
            return
        x, width = self._pointer.x(), self.viewport().width()
        step = -12 if x < 16 else 12 if x > width - 16 else 0
        h = self.horizontalScrollBar()
        if step > 0 and h.value() >= h.maximum():
            h.setMaximum(h.maximum() + step)  # room to drag past the current end
        before = h.value()
        h.setValue(before + step)
        moved = h.value() - before
        if not moved:
            return
        drag.press_x -= moved  # the grabbed point scrolled with the content
        self._drag_step()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        self._drag = None
        self._autoscroll.stop()
        QToolTip.hideText()
        if drag.kind != "seek" and drag.started:
            self._commit(drag)  # the document's data_changed redraws from the new data
        if self._shown is not self._scenes:
            self._show(self._scenes, self._base)

    # ------------------------------------------------------------------------ media lengths

    def _source_path(self, src: str) -> str | None:
        base_dir = self.document.base_dir
        if base_dir != self._paths_base:  # Save As elsewhere: relative sources move
            self._paths.clear()
            self._paths_base = base_dir
        if src not in self._paths:
            source = resolve_src(src, base_dir)
            self._paths[src] = str(source.path) if source.path is not None else None
        return self._paths[src]

    def _probe_sources(self, scenes: Iterable[_SceneTiming]) -> None:
        """Learn the length of every local video/audio source not known yet (on a worker)."""
        sources = {e.src for scene in scenes for e in scene.elements if e.src is not None}
        wanted = {path for src in sources if (path := self._source_path(src)) is not None}
        for path in wanted - self._lengths.keys():
            self._lengths[path] = None  # asked for; stays None if it cannot be read
            self._tasks.run(_media_length, path, done=partial(self._probed, path))

    def _probed(self, path: str, length: float | None, _error: BaseException | None) -> None:
        self._lengths[path] = length
        if length is not None:  # bars using it may show where it runs out
            self.invalidate_cache()

    def media_end(self, scene: int, index: int) -> float | None:
        """When element `index` of scene `scene` runs out of source (absolute seconds), if
        that is before the bar's end: an audio or a non-looping video past its media's end."""
        element = self._shown[scene].elements[index]
        if element.src is None or element.loop:
            return None
        path = self._source_path(element.src)
        length = self._lengths.get(path) if path is not None else None
        if length is None:
            return None
        span = self._timeline.element_span(scene, index)
        end = span.start + max(0.0, length - element.trim_start)
        return end if end < span.end else None

    # ------------------------------------------------------------------------ media drops

    def _media_files(self, event: Any) -> list[FilePath]:
        return [p for p in local_files(event.mimeData()) if not is_script_file(p)]

    def _drop_target(self, x: float) -> tuple[int, float] | None:
        """The scene under viewport x and the time inside it a drop there starts at."""
        if not self._starts:
            return None
        t = min(max(self.x2t(x), 0.0), self._timeline.total)
        index = max(0, min(bisect.bisect_right(self._starts, t) - 1, len(self._starts) - 1))
        span = self._timeline.scenes[index]
        offset = self._round(min(max(t - span.start, 0.0), max(0.0, span.duration - MIN_SECONDS)))
        return index, offset

    def dragEnterEvent(self, event: Any) -> None:
        if self._media_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()  # a .json drop is the window's (it opens the file)

    def dragMoveEvent(self, event: Any) -> None:
        target = self._drop_target(event.position().x()) if self._media_files(event) else None
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        scene, offset = target
        self._drop_at = self._timeline.scenes[scene].start + offset
        self.viewport().update()

    def dragLeaveEvent(self, event: Any) -> None:
        self._drop_at = None
        self.viewport().update()

    def dropEvent(self, event: Any) -> None:
        files = self._media_files(event)
        target = self._drop_target(event.position().x()) if files else None
        self._drop_at = None
        self.viewport().update()
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_media(files, *target)

    def drop_media(self, files: list[FilePath], scene: int, offset: float) -> None:
        """Probe `files` on a worker, then add them to scene `scene` starting `offset` seconds
        into it, in one undo step; refusals are reported by `message`."""
        self._tasks.run(
            elements_for_files,
            files,
            self.document.base_dir,
            done=lambda result, error: self._media_probed(result, error, scene, offset),
        )

    def _media_probed(
        self, result: DroppedMedia | None, error: BaseException | None, scene: int, offset: float
    ) -> None:
        if error is not None or result is None:
            self.message.emit(f"The files could not be read: {error}")
            return
        if result.errors:
            self.message.emit(result.message())
        elements = [dict(e, start=offset) if offset > 0 else e for e in result.elements]
        if elements and not add_elements(self.document, scene, elements):
            self.message.emit(f"Scene {scene + 1} cannot take elements")

    def shutdown(self) -> None:
        self._tasks.shutdown()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self._drag = None  # cancel: nothing was written
            self._autoscroll.stop()
            QToolTip.hideText()
            self._show(self._scenes, self._base)
            return
        super().keyPressEvent(event)

    def _update_cursor(self, pos: QPointF) -> None:
        hit = self.hit(pos)
        shape = Qt.CursorShape.ArrowCursor
        if hit is not None:
            if hit.kind in ("scene-end", "element-end", "element-start"):
                shape = Qt.CursorShape.SizeHorCursor
            elif hit.kind == "element-move":
                shape = Qt.CursorShape.OpenHandCursor
            elif hit.kind == "ruler":
                shape = Qt.CursorShape.PointingHandCursor
        self.viewport().setCursor(shape)

    def _seek_to(self, x: float) -> None:
        t = min(max(self.x2t(x), 0.0), self._timeline.total)
        self.document.playhead.seek(t)

    # ------------------------------------------------------------------------ dragging

    def _decimals(self) -> int:
        return 2 if self._pps < 400 else 3

    def _round(self, value: float) -> float:
        return round(value, self._decimals())

    def _snap_targets(self, drag: _Drag) -> list[float]:
        """Absolute times an edge may snap to: the playhead, the dragged scene's own bars, and
        for an element also the scene edges in view and the other bars of its scene."""
        base = self._base
        targets = [self.document.playhead.time]
        scene = self._scenes[drag.scene]
        for j in range(len(scene.elements)):
            if j != drag.element:
                span = base.element_span(drag.scene, j)
                targets += [span.start, span.end]
        if drag.element is not None:
            for i in self._visible_scenes():
                block = base.scenes[i]
                targets += [block.start, block.end]
        return targets

    def _snap(self, times: list[float], targets: list[float]) -> tuple[float, float | None]:
        """The shift that puts the nearest of `times` on a target within SNAP_PX, and it."""
        best: tuple[float, float | None] = (0.0, None)
        limit = SNAP_PX / self._pps
        for t in times:
            for target in targets:
                gap = target - t
                if abs(gap) <= limit and (best[1] is None or abs(gap) < abs(best[0])):
                    best = (gap, target)
        return best

    def _drag_to(self, drag: _Drag, x: float, snap: bool) -> None:
        """Move the grabbed edge to viewport x `x` (snapped unless `snap` is off), keep the
        values in range, and show the result without touching the document."""
        dt = (x - drag.press_x) / self._pps
        scene_start = self._base.scenes[drag.scene].start
        scene = self._scenes[drag.scene]
        targets = self._snap_targets(drag) if snap else []
        drag.snapped = None
        if drag.kind == "scene-end":
            assert drag.origin_duration is not None
            end = scene_start + drag.origin_duration + dt
            if targets:
                shift, drag.snapped = self._snap([end], targets)
                end += shift
            floor = max(MIN_SECONDS, scene.transition.duration if scene.transition else 0.0)
            new_duration = min(max(self._round(end - scene_start), floor), MAX_SCENE_SECONDS)
            drag.duration = new_duration
            preview = _SceneTiming(new_duration, scene.transition, scene.elements, scene.name, True)
        else:
            assert drag.element is not None
            length = scene.duration
            start = drag.origin_start
            duration = drag.origin_duration
            end_rel = min(start + duration if duration is not None else length, length)
            if drag.kind == "element-move":
                new_start = start + dt
                if targets:
                    edges = [scene_start + new_start]
                    if duration is not None:
                        edges.append(scene_start + new_start + duration)
                    shift, drag.snapped = self._snap(edges, targets)
                    new_start += shift
                new_start = min(max(self._round(new_start), 0.0), max(0.0, length - MIN_SECONDS))
                drag.start, drag.duration = new_start, duration
            elif drag.kind == "element-end":
                new_end = end_rel + dt
                if targets:
                    shift, drag.snapped = self._snap([scene_start + new_end], targets)
                    new_end += shift
                new_end = min(max(new_end, start + MIN_SECONDS), length)
                drag.start = start
                drag.duration = max(self._round(new_end - start), MIN_SECONDS)
            else:  # element-start: trim the head, the end stays where it is
                new_start = start + dt
                if targets:
                    shift, drag.snapped = self._snap([scene_start + new_start], targets)
                    new_start += shift
                new_start = max(min(self._round(new_start), end_rel - MIN_SECONDS), 0.0)
                drag.start = new_start
                drag.duration = (
                    None if duration is None else max(self._round(end_rel - new_start), MIN_SECONDS)
                )
            elements = list(scene.elements)
            old = elements[drag.element]
            elements[drag.element] = _ElementTiming(drag.start, drag.duration, old.kind, old.label)
            preview = _SceneTiming(
                scene.duration, scene.transition, elements, scene.name, scene.valid
            )
        scenes = list(self._scenes)
        scenes[drag.scene] = preview
        self._show(scenes, self._timing(scenes))

    def _drag_text(self, drag: _Drag) -> str:
        if drag.kind == "scene-end":
            return f"duration {format_time(drag.duration or 0, 10 ** -self._decimals())}"
        if drag.kind == "element-move":
            return f"start {format_time(drag.start, 10 ** -self._decimals())}"
        if drag.kind == "element-end":
            return f"duration {format_time(drag.duration or 0, 10 ** -self._decimals())}"
        text = f"start {format_time(drag.start, 10 ** -self._decimals())}"
        if drag.duration is not None:
            text += f", duration {format_time(drag.duration, 10 ** -self._decimals())}"
        return text

    def _commit(self, drag: _Drag) -> None:
        """Write the dragged values as one undo step (nothing when they did not change)."""
        scene_path: Path = ("scenes", drag.scene)
        if not isinstance(self.document.value(scene_path), dict):
            return  # not a scene object: nothing to write into (validation says so)
        changes: list[Change] = []
        if drag.kind == "scene-end":
            old = self.document.value((*scene_path, "duration"), MISSING)
            if drag.duration is not None and old != drag.duration:
                changes.append(Change((*scene_path, "duration"), old, drag.duration))
            name = f"Change {describe(scene_path)} › duration"
        else:
            assert drag.element is not None
            path: Path = (*scene_path, "elements", drag.element)
            if not isinstance(self.document.value(path), dict):
                return
            old_start = self.document.value((*path, "start"), MISSING)
            current = 0.0 if old_start is MISSING else _number(old_start)
            if drag.kind != "element-end" and current != drag.start:
                changes.append(Change((*path, "start"), old_start, drag.start))
            if drag.kind != "element-move" and drag.duration is not None:
                old_duration = self.document.value((*path, "duration"), MISSING)
                if old_duration != drag.duration:
                    changes.append(Change((*path, "duration"), old_duration, drag.duration))
            verb = "Move" if drag.kind == "element-move" else "Trim"
            name = f"{verb} {describe(path)}"
        if changes:
            self.document.edit(changes, name)


class TimelinePanel(QWidget):
    """The Timeline dock's widget: a toolbar (zoom out/in/fit, snapping, playhead time) over
    `TimelineView`. Actions: `zoom_in_action` (Ctrl++), `zoom_out_action` (Ctrl+-),
    `zoom_fit_action` (Shift+Z), `snap_action` (N, checkable). Media files dropped on a scene
    block become elements of that scene starting where they were dropped; `message(str)`
    carries refusals for the status bar."""

    message = Signal(str)

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TimelinePanel")
        self.document = document
        self.view = TimelineView(document, self)
        self.view.setAccessibleName("Timeline")
        self.view.message.connect(self.message)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.aboutToQuit.connect(self.view.shutdown)

        self.zoom_out_action = self._action(
            "Zoom out",
            "mdi6.magnify-minus-outline",
            QKeySequence.StandardKey.ZoomOut,
            self.view.zoom_out,
        )
        self.zoom_in_action = self._action(
            "Zoom in",
            "mdi6.magnify-plus-outline",
            QKeySequence.StandardKey.ZoomIn,
            self.view.zoom_in,
        )
        self.zoom_fit_action = self._action(
            "Zoom to fit", "mdi6.fit-to-screen-outline", "Shift+Z", self.view.zoom_to_fit
        )
        self.snap_action = self._action("Snapping", "mdi6.magnet", "N", self._toggle_snap)
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(True)
        self.delete_action = self._action(
            "Delete selected", "mdi6.delete-outline", QKeySequence.StandardKey.Delete, self.delete
        )
        self.nudge_left_action = self._action(
            "Nudge left one frame", "mdi6.chevron-left", "Alt+Left", lambda: self.nudge(-1)
        )
        self.nudge_right_action = self._action(
            "Nudge right one frame", "mdi6.chevron-right", "Alt+Right", lambda: self.nudge(1)
        )

        toolbar = QToolBar("Timeline", self)
        toolbar.setIconSize(QSize(18, 18))
        for action in (self.zoom_out_action, self.zoom_in_action, self.zoom_fit_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.snap_action)
        self.time_label = QLabel(self)
        self.time_label.setContentsMargins(8, 0, 8, 0)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        mono = QFont(self.font())
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setFamily("monospace")
        self.time_label.setFont(mono)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(toolbar, 1)
        top.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

        document.playhead.time_changed.connect(self._update_time)
        document.data_changed.connect(self._update_time)
        self._update_time()

    def _action(self, text: str, glyph: str, shortcut: Any, slot: Any) -> QAction:
        palette = self.palette()
        action = QAction(
            qtawesome.icon(
                glyph,
                color=palette.color(QPalette.ColorRole.WindowText),
                color_disabled=palette.color(
                    QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText
                ),
            ),
            text,
            self,
        )
        action.setData(glyph)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(
            f"{text} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        )
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def delete(self) -> None:
        """Delete the selected element, or the selected scene (never the movie's last one),
        as one undo step."""
        path, _focus = self.document.selection
        if not path or len(path) < 2 or path[0] != "scenes" or not isinstance(path[1], int):
            return
        if len(path) >= 4 and path[2] == "elements" and isinstance(path[3], int):
            target: Path = path[:4]
        else:
            target = path[:2]
            scenes = self.document.value(("scenes",))
            if isinstance(scenes, list) and len(scenes) <= 1:
                self.message.emit("A movie needs at least one scene: the last one stays.")
                return
        if self.document.value(target, MISSING) is MISSING:
            return
        self.document.remove(target, f"Delete {describe(target)}")
        if len(target) == 4:
            self.document.select(target[:2])
        else:  # the next scene (or the new last one) takes the selection, as in the list
            count = len(self.document.value(("scenes",), []) or [])
            self.document.select(("scenes", min(int(target[1]), count - 1)))

    def shutdown(self) -> None:
        """Stop the worker that probes media (the window calls this when it closes)."""
        self.view.shutdown()

    def nudge(self, frames: int) -> None:
        """Move the selected element's start by whole frames (held keys merge into one step)."""
        path, _focus = self.document.selection
        if not path or len(path) < 4 or path[0] != "scenes" or path[2] != "elements":
            return
        element_path: Path = path[:4]
        element = self.document.value(element_path)
        scene_duration = _number(self.document.value((*element_path[:2], "duration")))
        if not isinstance(element, dict) or scene_duration is None:
            return
        fps = _number(self.document.value(("fps",))) or 30.0
        fps = fps if fps > 0 else 30.0
        start = _number(element.get("start", 0)) or 0.0
        # on the frame grid: held keys never drift by rounding
        new = round((round(start * fps) + frames) / fps, 4)
        new = min(max(new, 0.0), max(0.0, scene_duration - 1 / fps))
        if new != start:
            self.document.set_value((*element_path, "start"), new, f"Move {describe(element_path)}")

    def _toggle_snap(self) -> None:
        self.view.snapping = self.snap_action.isChecked()

    def _update_time(self, _changed: object = None) -> None:
        total = self.view.timeline.total
        self.time_label.setText(
            f"{format_time(self.document.playhead.time)} / {format_time(total)}"
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            palette = self.palette()
            for action in self.actions():
                glyph = action.data()
                if isinstance(glyph, str):
                    action.setIcon(
                        qtawesome.icon(glyph, color=palette.color(QPalette.ColorRole.WindowText))
                    )
        super().changeEvent(event)
