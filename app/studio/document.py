"""The studio's one source of truth: a movie script, its JSON text, its problems, its undo stack.

Panels never talk to each other; they talk to the document and follow its signals:

- `data_changed(paths)`: the data changed at these paths (a tuple of paths; `()` in it means
  "anything may have changed"). Visual views re-read what they show under those paths.
- `text_changed(origin)`: the JSON text changed; `origin` is "text" when the JSON editor itself
  made the edit (it already shows it), otherwise "data", "undo" or "load".
- `validated(state)`: a new `Validation` for the current text (problems with their text ranges).
- `selection_changed(path, focus)`: a view asked to show `path` (a scene or element) and, when
  given, the exact field `focus` (a problem's path): the inspector focuses that field, the JSON
  editor puts the cursor on its range, the scene list and the timeline select it.
- `file_changed()`: the file path or the modified flag changed (window title, recent files).
- `variables_changed()`: the sample values of `{{variables}}` changed (preview, validation).
- `movie_changed(movie)`: a new renderable `Movie` (the document after template substitution,
  when it has no errors); the preview and thumbnails draw `document.movie`, which stays on the
  last good one while the script has errors. `load` resets it to None (and says so) until the
  newly opened text validates.

`document.playhead` is the shared time cursor: the preview player moves it while playing, the
timeline and the scrubber seek it; every view follows its `time_changed`.

Edits are `QUndoCommand`s on one `QUndoStack` (`undo_stack`), each with a readable name for
Edit › Undo: `set_value`, `remove`, `insert`, `move`, `replace_data` for the visual views;
`set_text` for the JSON editor (consecutive typing merges into one command). A data edit
re-serialises the text (stable key order, 2-space indent); undoing it restores the exact text
the user had before, formatting included. Text that is not JSON keeps the last good data for the
visual views and is reported as `INVALID_JSON` at its line and column.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import orjson
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.render.text import measure_text as render_measure_text
from app.script.jsonpath import Path, format_path, get_at
from app.script.jsontext import Parsed, parse
from app.script.lint import LintOptions
from app.script.model import Movie
from app.script.problems import Problem
from app.script.schema import Schema, active_schema
from app.script.validate import Location, Report, validate_text
from app.studio.tasks import TaskRunner

log = logging.getLogger(__name__)

#: Texts longer than this are validated on a worker thread (shorter ones take < 2 ms).
LARGE_TEXT = 20_000
#: Consecutive keystrokes closer than this merge into one "Edit JSON" undo step.
TYPING_MERGE_SECONDS = 1.0


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Missing:
        return self


#: The value of a key or list slot that does not exist (before an insert, after a removal).
MISSING: Any = _Missing()


def dumps(data: Any) -> str:
    """The document's canonical JSON text: keys in their order, 2-space indent, UTF-8 as is.

    orjson writes it in C (≈ 3 ms for a 1 MB script; `json.dumps(indent=2)` always takes the
    pure-Python encoder, ≈ 60 ms, which every inspector edit paid on the GUI thread). The
    standard encoder remains for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    except TypeError:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def describe(path: Path) -> str:
    """A path in words for menus and messages: `scene 2 › element 1 › font_size`."""
    words: list[str] = []
    i = 0
    while i < len(path):
        part = path[i]
        nxt = path[i + 1] if i + 1 < len(path) else None
        if part in ("scenes", "elements") and isinstance(nxt, int):
            words.append(f"{'scene' if part == 'scenes' else 'element'} {nxt + 1}")
            i += 2
            continue
        words.append(str(part) if not isinstance(part, int) else f"item {part + 1}")
        i += 1
    return " › ".join(words) or "script"


@dataclass(frozen=True)
class Change:
    """One primitive change: the value at `path` goes from `old` to `new`.

    `MISSING` as `old` inserts (a key, or an item at that list index); as `new` it removes."""

    path: Path
    old: Any
    new: Any


def _apply(data: Any, path: Path, value: Any, insert: bool) -> Any:
    """Apply one change and return the new root, copying only the containers along `path`.

    Copy-on-write keeps every earlier root intact: a validation running on a worker reads the
    data it was given while the next edit lands, and unchanged scenes stay the same objects."""
    if not path:
        return value
    key = path[0]
    if isinstance(data, list):
        if not isinstance(key, int):
            raise KeyError(f"{key!r} is not a list index")
        copied: Any = list(data)
    elif isinstance(data, dict):
        copied = dict(data)
    else:
        raise KeyError(f"{key!r}: the value there is not an object or a list")
    if len(path) > 1:
        copied[key] = _apply(copied[key], path[1:], value, insert)
    elif isinstance(copied, list):
        assert isinstance(key, int)
        if value is MISSING:
            copied.pop(key)
        elif insert:
            copied.insert(key, value)
        else:
            copied[key] = value
    elif value is MISSING:
        copied.pop(key, None)
    else:
        copied[key] = value
    return copied


@dataclass
class Validation:
    """The problems of one text, each with where it stands, plus lookups by path."""

    revision: int
    report: Report
    located: list[tuple[Problem, Location]] = field(default_factory=list)
    #: the renderable movie (variables substituted) when the script has no errors
    movie: Movie | None = None

    @property
    def problems(self) -> list[Problem]:
        return [problem for problem, _ in self.located]

    @property
    def parse_error(self) -> Any:
        return self.report.parse_error

    def under(self, path: Path) -> list[Problem]:
        """Problems at `path` or anywhere inside it."""
        n = len(path)
        return [p for p in self.problems if p.path[:n] == path]

    def at(self, path: Path) -> list[Problem]:
        """Problems exactly at `path`."""
        return [p for p in self.problems if p.path == path]

    def location(self, problem: Problem) -> Location | None:
        for candidate, where in self.located:
            if candidate is problem:
                return where
        return None


def _validate(
    revision: int,
    text: str,
    schema: Schema,
    variables: Mapping[str, Any] | None,
    lint_options: LintOptions | None,
    parsed: Parsed | None = None,
) -> Validation:
    report = validate_text(
        text, schema=schema, variables=variables, lint_options=lint_options, parsed=parsed
    )
    movie = None
    if report.ok and report.resolved is not None:
        try:
            movie = Movie.model_validate(report.resolved)
        except ValueError:  # a custom schema may accept what our model refuses
            movie = None
    return Validation(revision, report, report.located(), movie)


def _changed_paths(old: Any, new: Any) -> tuple[Path, ...]:
    """Which parts of the document differ, coarsely: top-level keys and individual scenes."""
    if not isinstance(old, dict) or not isinstance(new, dict) or old.keys() != new.keys():
        return ((),)
    paths: list[Path] = []
    for key, value in new.items():
        before = old[key]
        if before == value:
            continue
        if (
            key == "scenes"
            and isinstance(value, list)
            and isinstance(before, list)
            and len(value) == len(before)
        ):
            pairs = enumerate(zip(before, value, strict=True))
            paths += [("scenes", i) for i, (a, b) in pairs if a != b]
        else:
            paths.append((key,))
    return tuple(paths)


class _DataCommand(QUndoCommand):
    """A list of `Change`s applied in order, undone in reverse, restoring the exact old text."""

    MERGE_ID = 1

    def __init__(
        self, document: ScriptDocument, name: str, changes: list[Change], merge_key: Any = None
    ) -> None:
        super().__init__(name)
        self._document = document
        self.changes = changes
        self.merge_key = merge_key
        self.when = time.monotonic()
        self._text_before = document.text
        self._data_before_was_good = document.parse_error is None

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _DataCommand) or other.merge_key != self.merge_key:
            return False
        if other.when - self.when > TYPING_MERGE_SECONDS:
            return False
        self.when = other.when
        # Same field edited again (a spin box being stepped): keep our old, take its new.
        mine = {c.path: c for c in self.changes}
        for change in other.changes:
            first = mine.get(change.path)
            mine[change.path] = Change(change.path, first.old if first else change.old, change.new)
        self.changes = list(mine.values())
        return True

    def redo(self) -> None:
        data = self._document._data
        for change in self.changes:
            data = _apply(data, change.path, copy.deepcopy(change.new), change.old is MISSING)
        self._document._data = data
        self._document._after_data_edit(self._paths(), dumps(data), "data")

    def undo(self) -> None:
        data = self._document._data
        for change in reversed(self.changes):
            data = _apply(data, change.path, copy.deepcopy(change.old), change.new is MISSING)
        self._document._data = data
        self._document._after_data_edit(self._paths(), self._text_before, "undo")

    def _paths(self) -> tuple[Path, ...]:
        paths: list[Path] = []
        for change in self.changes:
            # An insert or removal shifts its siblings: the whole list changed.
            inserted_or_removed = change.old is MISSING or change.new is MISSING
            path = change.path[:-1] if inserted_or_removed else change.path
            paths.append(path)
        return tuple(paths)


class _TextCommand(QUndoCommand):
    """A JSON text edit; consecutive typing merges into one step."""

    MERGE_ID = 2

    def __init__(self, document: ScriptDocument, old: str, new: str, name: str) -> None:
        super().__init__(name)
        self._document = document
        self.old = old
        self.new = new
        self.when = time.monotonic()
        self._first = True
        self.mergeable = name == "Edit JSON"

    def id(self) -> int:
        return self.MERGE_ID if self.mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _TextCommand) or not other.mergeable:
            return False
        if other.when - self.when > TYPING_MERGE_SECONDS:
            return False
        self.new = other.new
        self.when = other.when
        return True

    def redo(self) -> None:
        # The first redo happens on push, when the editor already shows the new text.
        origin = "text" if self._first else "undo"
        self._first = False
        self._document._after_text_edit(self.new, origin)

    def undo(self) -> None:
        self._document._after_text_edit(self.old, "undo")


class Playhead(QObject):
    """The shared time cursor (seconds from the movie start) and whether playback runs."""

    time_changed = Signal(float)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._time = 0.0
        self._playing = False

    @property
    def time(self) -> float:
        return self._time

    @property
    def playing(self) -> bool:
        return self._playing

    def seek(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        if seconds != self._time:
            self._time = seconds
            self.time_changed.emit(seconds)

    def set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)


class ScriptDocument(QObject):
    """See the module docstring."""

    data_changed = Signal(object)
    text_changed = Signal(str)
    validated = Signal(object)
    selection_changed = Signal(object, object)
    file_changed = Signal()
    variables_changed = Signal()
    movie_changed = Signal(object)

    def __init__(
        self,
        text: str | None = None,
        *,
        file_path: FilePath | None = None,
        schema: Schema | None = None,
        measure_text: Callable[..., Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.playhead = Playhead(self)
        self._movie: Movie | None = None
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self._schema = schema
        # Lint checks text boxes with the renderer's own font metrics (cached per text).
        self._measure_text = measure_text or render_measure_text
        self._file_path = file_path
        self._text = ""
        self._data: Any = {}
        self._parse_error: Any = None
        self._parsed: Parsed | None = None
        self._variables: dict[str, Any] = {}
        self._selection: tuple[Path | None, Path | None] = (None, None)
        self._revision = 0
        self._validation: Validation | None = None
        self._validating = False
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-validate", parent=self)
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(0)
        self._validate_timer.timeout.connect(self._start_validation)
        self._set_text(text if text is not None else dumps(_blank()), "load")

    # ----------------------------------------------------------------------------- reading

    @property
    def text(self) -> str:
        return self._text

    @property
    def data(self) -> Any:
        """The last data that parsed (read it, never mutate it: edit through the methods)."""
        return self._data

    def value(self, path: Path, default: Any = None) -> Any:
        try:
            return get_at(self._data, path)
        except (KeyError, IndexError, TypeError):
            return default

    @property
    def movie(self) -> Movie | None:
        """The last renderable movie (None until the script has been valid once)."""
        return self._movie

    @property
    def parse_error(self) -> Any:
        """The text's `ParseError` while it is not JSON, else None."""
        return self._parse_error

    @property
    def validation(self) -> Validation | None:
        """The latest validation of the current text (None until the first one lands)."""
        return self._validation

    @property
    def schema(self) -> Schema:
        """The schema validation uses: the one given (a connected service's) or the active one."""
        return self._schema or active_schema()

    @property
    def revision(self) -> int:
        """Increases with every change of the text."""
        return self._revision

    @property
    def file_path(self) -> FilePath | None:
        return self._file_path

    @property
    def base_dir(self) -> FilePath | None:
        return self._file_path.parent if self._file_path else None

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        return self._file_path.name if self._file_path else "Untitled"

    @property
    def variables(self) -> dict[str, Any]:
        """Sample values for `{{variables}}` (the preview and validation use them)."""
        return dict(self._variables)

    @property
    def selection(self) -> tuple[Path | None, Path | None]:
        return self._selection

    # ----------------------------------------------------------------------------- editing

    def set_value(
        self, path: Path, value: Any, name: str | None = None, merge: bool = True
    ) -> None:
        """Set (or add) the value at `path`; `MISSING` removes a key. Merges repeated edits of
        the same field (a spin box being stepped) into one undo step when `merge`."""
        old = self.value(path, MISSING)
        if old is not MISSING and old == value and type(old) is type(value):
            return
        label = name or f"Change {describe(path)}"
        self.edit([Change(path, old, value)], label, merge_key=path if merge else None)

    def remove(self, path: Path, name: str | None = None) -> None:
        """Remove the item or key at `path`."""
        old = self.value(path, MISSING)
        if old is MISSING:
            return
        self.edit([Change(path, old, MISSING)], name or f"Delete {describe(path)}")

    def insert(self, path: Path, value: Any, name: str | None = None) -> None:
        """Insert `value` into a list at `path` (its last part is the index)."""
        self.edit([Change(path, MISSING, value)], name or f"Insert {describe(path)}")

    def move(self, list_path: Path, source: int, target: int, name: str | None = None) -> None:
        """Move an item of the list at `list_path` so it ends up at index `target`."""
        items = self.value(list_path)
        if not isinstance(items, list) or source == target:
            return
        if not (0 <= source < len(items) and 0 <= target < len(items)):
            raise IndexError(f"cannot move item {source} to {target} in {format_path(list_path)}")
        item = items[source]
        changes = [
            Change((*list_path, source), item, MISSING),
            Change((*list_path, target), MISSING, item),
        ]
        self.edit(changes, name or f"Move {describe((*list_path, source))}")

    def replace_data(self, data: Any, name: str = "Replace script") -> None:
        self.edit([Change((), self._data, data)], name)

    def edit(self, changes: Iterable[Change], name: str, merge_key: Any = None) -> None:
        """Push one undoable step made of several changes (e.g. a drag that moves two edges)."""
        changes = list(changes)
        if not changes:
            return
        for change in changes:
            if change.path == () and change.new is MISSING:
                raise ValueError("the document itself cannot be removed")
        self.undo_stack.push(_DataCommand(self, name, changes, merge_key))

    def set_text(self, text: str, name: str = "Edit JSON") -> None:
        """The JSON editor's edit (already shown by the editor): undoable, re-parsed."""
        if text == self._text:
            return
        self.undo_stack.push(_TextCommand(self, self._text, text, name))

    def load(self, text: str, file_path: FilePath | None) -> None:
        """Open a text as a new document state: clears the undo history and the modified flag."""
        self.undo_stack.clear()
        self._file_path = file_path
        if self._movie is not None:
            # The previous file's movie must not stand in for this one while it has errors.
            self._movie = None
            self.movie_changed.emit(None)
        self._set_text(text, "load")
        self.undo_stack.setClean()
        self.file_changed.emit()

    def mark_saved(self, file_path: FilePath) -> None:
        self._file_path = file_path
        self.undo_stack.setClean()
        self.file_changed.emit()

    def set_variables(self, values: Mapping[str, Any]) -> None:
        self._variables = dict(values)
        self.variables_changed.emit()
        self._schedule_validation()

    def set_schema(self, schema: Schema | None) -> None:
        """Validate against another schema (the connected service's); None = the active one."""
        self._schema = schema
        self._schedule_validation()

    def select(self, path: Path | None, focus: Path | None = None) -> None:
        """Show `path` (scene or element) in every view; `focus` names a field inside it."""
        self._selection = (path, focus)
        self.selection_changed.emit(path, focus)

    # ----------------------------------------------------------------------------- internals

    def _clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    def _after_data_edit(self, paths: tuple[Path, ...], text: str, origin: str) -> None:
        self._text = text
        self._parse_error = None
        # The canonical text of our own data: no need to parse it again to validate it.
        self._parsed = Parsed(data=self._data)
        if origin == "undo":
            # The text before this command may have been invalid or hand-formatted: re-parse it
            # so data and parse error match that text exactly.
            self._reparse(text)
        self._changed_text(origin)
        self.data_changed.emit(paths)

    def _after_text_edit(self, text: str, origin: str) -> None:
        before = self._data
        self._text = text
        good = self._reparse(text)
        self._changed_text(origin)
        if good:
            paths = _changed_paths(before, self._data)
            if paths:
                self.data_changed.emit(paths)

    def _reparse(self, text: str) -> bool:
        parsed = parse(text)
        self._parsed = parsed
        if parsed.error is not None:
            self._parse_error = parsed.error
            return False
        self._parse_error = None
        self._data = parsed.data
        return True

    def _set_text(self, text: str, origin: str) -> None:
        self._text = text
        self._reparse(text)
        self._changed_text(origin)
        self.data_changed.emit(((),))

    def _changed_text(self, origin: str) -> None:
        self._revision += 1
        if origin == "text" and len(self._text) >= LARGE_TEXT and not self._validating:
            # A keystroke in a large script: start its validation on the worker now, so it
            # runs while the views take in the new data (Qt's painting releases the GIL).
            self._validate_timer.stop()
            self._start_validation()
            self.text_changed.emit(origin)
            return
        self.text_changed.emit(origin)
        self._schedule_validation()

    def _lint_options(self) -> LintOptions:
        return LintOptions(base_dir=self.base_dir, measure_text=self._measure_text)

    def _schedule_validation(self) -> None:
        if not self._validating:
            self._validate_timer.start()

    def _start_validation(self) -> None:
        revision = self._revision
        args = (
            revision,
            self._text,
            self._schema or active_schema(),
            self._variables or None,
            self._lint_options(),
            self._parsed,
        )
        if len(self._text) < LARGE_TEXT:
            self._finish_validation(_validate(*args), None)
            return
        self._validating = True
        self._tasks.run(_validate, *args, done=self._finish_validation)

    def _finish_validation(self, result: Validation | None, error: BaseException | None) -> None:
        self._validating = False
        if error is not None:
            log.error("validation failed", exc_info=error)
        elif result is not None and result.revision == self._revision:
            self._land(result)
            return
        if result is None or result.revision != self._revision:
            self._validate_timer.start()

    def validate_now(self) -> Validation:
        """Validate synchronously (tests, and before a render/submit)."""
        self._validate_timer.stop()
        result = _validate(
            self._revision,
            self._text,
            self._schema or active_schema(),
            self._variables or None,
            self._lint_options(),
            self._parsed,
        )
        self._land(result)
        return result

    def _land(self, result: Validation) -> None:
        self._validation = result
        self.validated.emit(result)
        if result.movie is not None and result.movie != self._movie:
            self._movie = result.movie
            self.movie_changed.emit(result.movie)

    def close(self) -> None:
        self._validate_timer.stop()
        self._tasks.shutdown()


def _blank() -> dict[str, Any]:
    return {
        "width": 1920,
        "height": 1080,
        "fps": 30,
        "scenes": [{"name": "Scene 1", "duration": 5, "background": "#101820", "elements": []}],
    }
