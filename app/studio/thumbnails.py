"""Scene thumbnails: the real compositor's frame at a scene's first second, made on a worker.

`SceneThumbnails.get(i)` answers at once with a cached image or None; a None also queues the
render (newest request first, so the rows the user is looking at now come before rows scrolled
past) and `ready(i)` says when it lands. Images are cached by what decides the picture — the
canvas, the scene's content, the previous scene's when a transition shows it, the time inside
the scene, and the state of every local media file it draws (path, mtime, size, or "missing") — so
editing scene 7 re-renders scene 7 only, reordering re-renders nothing, and a media file that
appears or changes re-renders exactly the scenes that use it. A thumbnail drawn with a placeholder
because its file was missing or unreadable is therefore retried as soon as that file changes.

Files are checked with one `os.stat` each when a row's key is made (on the GUI thread: local files
only; remote sources are never touched here, their URL is part of the scene's content). Changes
are noticed three ways: every validation recomputes the keys; existing files are watched
(`QFileSystemWatcher.fileChanged`); for a missing file its nearest existing folder is watched, and
when that folder changes the file is looked for again. The renderer reopens its decoders when a
file it read before has a different state, so a re-export is never served from a stale cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtGui import QImage

from app.render.preview import PreviewSource
from app.script.model import Movie, Scene
from app.script.sources import resolve_src
from app.script.timeline import Timeline
from app.studio.document import ScriptDocument
from app.studio.tasks import TaskRunner

log = logging.getLogger(__name__)

#: Thumbnail size in device pixels (the long side of a 16:9 frame fits this box).
THUMB_WIDTH = 128
THUMB_HEIGHT = 72
#: Pending requests kept (older ones are dropped: those rows have been scrolled past).
MAX_PENDING = 48
#: Cached images (about 37 kB each at 128×72).
MAX_CACHED = 800


def thumbnail_time(timeline: Timeline, index: int) -> float:
    """Where a scene's thumbnail is taken: its first second, or its middle if shorter than 2 s."""
    span = timeline.scenes[index]
    return span.start + min(1.0, span.duration / 2)


def thumbnail_scale(movie: Movie, ratio: float = 1.0) -> float:
    """The preview scale at which the movie's frame fits the thumbnail box."""
    return min(THUMB_WIDTH * ratio / movie.width, THUMB_HEIGHT * ratio / movie.height)


#: The state of a local file as far as a thumbnail cares: (mtime in ns, size), or missing.
FileState = tuple[int, int] | None
#: Local media files a thumbnail draws, with their states, sorted by path.
Files = tuple[tuple[str, FileState], ...]


def file_state(path: str) -> FileState:
    """(mtime_ns, size) of a file, or None when there is no such file (one `stat`)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def _drawn_scenes(timeline: Timeline, index: int) -> list[int]:
    """The scenes in scene `index`'s thumbnail: it, and the one before while a transition
    shows it."""
    offset = thumbnail_time(timeline, index) - timeline.scenes[index].start
    transition = timeline.scenes[index].transition
    if transition is not None and index > 0 and offset < transition.duration:
        return [index - 1, index]
    return [index]


def _scene_key(movie: Movie, index: int, timeline: Timeline, scale: float, files: Files) -> str:
    offset = thumbnail_time(timeline, index) - timeline.scenes[index].start
    # everything that draws, nothing that does not (a rename keeps the picture)
    parts = [f"{movie.width}x{movie.height}@{scale:.5f}", f"{offset:.4f}"]
    for i in _drawn_scenes(timeline, index):
        parts.append(movie.scenes[i].model_dump_json(exclude={"name"}))
    parts += [f"{path}={state}" for path, state in files]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _local_files(movie: Movie, indices: list[int], base_dir: Path | None) -> list[str]:
    """The local files (absolute) that elements of these scenes draw; URLs are not files."""
    files = []
    for index in indices:
        for element in movie.scenes[index].elements:
            src = getattr(element, "src", None)
            if isinstance(src, str):
                source = resolve_src(src, base_dir)
                if source.path is not None:
                    files.append(str(source.path))
    return files


class _Renderer:
    """The worker side: one PreviewSource, switched to each request's movie. It is reopened
    (decoders, stills and frames dropped) when a file it read has changed state since, and
    after a render that drew a placeholder, so a retry reads the files afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: PreviewSource | None = None
        self._stale = False
        self._seen: dict[str, FileState] = {}

    def render(
        self, movie: Movie, base_dir: Path | None, t: float, scale: float, files: Files = ()
    ) -> QImage:
        with self._lock:
            changed = any(path in self._seen and self._seen[path] != s for path, s in files)
            self._seen.update(files)
            if (self._stale or changed) and self._source is not None:
                self._source.close()  # media changed on disk: reopen the decoders
                self._source = None
            self._stale = False
            if self._source is None:
                self._source = PreviewSource(movie, base_dir, cache_mb=8)
            elif self._source.movie is not movie or self._source.base_dir != base_dir:
                self._source.set_movie(movie, base_dir)
                self._source.base_dir = base_dir
            before = len(self._source.errors)
            image = self._source.frame(t, scale).copy()
            if len(self._source.errors) > before:
                self._stale = True  # a placeholder was drawn: nothing of it may be reused
            return image

    def invalidate(self) -> None:
        self._stale = True

    def close(self) -> None:
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None


@dataclass(frozen=True)
class _Subject:
    """What a row's thumbnail shows: scene `index` of `movie`, at time `t`, cached as `key`."""

    movie: Movie
    index: int
    t: float
    key: str
    files: Files = ()


class SceneThumbnails(QObject):
    """Lazily rendered, cached thumbnails of the document's scenes.

    While the script is valid they are frames of `document.movie`. While it has errors, each
    scene that is valid on its own is still drawn from the current data (one broken scene does
    not freeze the other thumbnails, nor shift them after an insert); a broken scene has none."""

    #: the thumbnail of scene `index` is ready (call `get(index)` again)
    ready = Signal(int)
    #: every thumbnail may have changed (a new validation): ask again for the rows in view
    changed = Signal()

    def __init__(self, document: ScriptDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-thumbs", parent=self)
        self._renderer = _Renderer()
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._subjects: dict[int, _Subject | None] = {}
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._busy: str | None = None
        self._ratio = 1.0
        self._timeline: Timeline | None = None
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._media_changed)
        self._watcher.directoryChanged.connect(self._folder_changed)
        self._watched: set[str] = set()  # media files watched
        self._missing: dict[str, set[str]] = {}  # watched folder → missing files below it
        document.validated.connect(self._validated)
        self.rendered = 0  # how many thumbnails were actually rendered (tests, diagnostics)

    # ------------------------------------------------------------------ reading

    def set_device_ratio(self, ratio: float) -> None:
        """Render for this screen's device pixel ratio (sharp on HiDPI)."""
        ratio = max(1.0, min(ratio, 3.0))
        if ratio != self._ratio:
            self._ratio = ratio
            self._subjects.clear()

    def scale_for(self, movie: Movie) -> float:
        return thumbnail_scale(movie, self._ratio)

    def key(self, index: int) -> str | None:
        """The cache key of scene `index`'s picture (None when it has none)."""
        subject = self._subject(index)
        return subject.key if subject is not None else None

    def time_of(self, index: int) -> float | None:
        """The time (in the movie the thumbnail is taken from) of scene `index`'s picture."""
        subject = self._subject(index)
        return subject.t if subject is not None else None

    def get(self, index: int) -> QImage | None:
        """The thumbnail of scene `index`, or None (then it is queued and `ready` will tell)."""
        key = self.key(index)
        if key is None:
            return None
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
            return image
        if key == self._busy:
            return None  # being rendered now
        self._pending[key] = index
        self._pending.move_to_end(key)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        self._next()
        return None

    # ------------------------------------------------------------------ internals

    def _subject(self, index: int) -> _Subject | None:
        if index in self._subjects:
            return self._subjects[index]
        subject = self._find_subject(index)
        self._subjects[index] = subject
        return subject

    def _current_movie(self) -> Movie | None:
        """`document.movie` when it is the current text's (no errors), else None."""
        validation = self._document.validation
        if validation is None or validation.revision != self._document.revision:
            return None
        return validation.movie

    def _find_subject(self, index: int) -> _Subject | None:
        movie = self._current_movie()
        if movie is not None:
            if not 0 <= index < len(movie.scenes):
                return None
            return self._make_subject(movie, index)
        return self._subject_from_data(index)

    def _make_subject(self, movie: Movie, index: int) -> _Subject:
        if self._timeline is None or self._timeline.movie is not movie:
            self._timeline = Timeline(movie)
        scale = self.scale_for(movie)
        paths = _local_files(movie, _drawn_scenes(self._timeline, index), self._document.base_dir)
        files = tuple((path, file_state(path)) for path in sorted(set(paths)))
        key = _scene_key(movie, index, self._timeline, scale, files)
        return _Subject(movie, index, thumbnail_time(self._timeline, index), key, files)

    def _subject_from_data(self, index: int) -> _Subject | None:
        """Scene `index` of the current data, drawn alone (with the scene before it when its
        transition shows it) when it is valid by itself."""
        scenes = self._document.value(("scenes",))
        if not isinstance(scenes, list) or not 0 <= index < len(scenes):
            return None
        scene = _valid_scene(scenes[index])
        if scene is None:
            return None
        canvas = self._document.movie
        fields: dict[str, Any] = {}
        for name in ("width", "height", "fps"):
            value = self._document.value((name,))
            valid = _valid_field(name, value)
            if valid is not None:
                fields[name] = valid
            elif canvas is not None:
                fields[name] = getattr(canvas, name)
        offset = min(1.0, scene.duration / 2)
        parts = [scene]
        if scene.transition is not None and index > 0 and offset < scene.transition.duration:
            previous = _valid_scene(scenes[index - 1])
            if previous is not None:
                parts = [previous, scene]
            else:
                parts = [scene.model_copy(update={"transition": None})]
        elif scene.transition is not None:
            parts = [scene.model_copy(update={"transition": None})]
        # parts are validated one by one; the movie around them only holds the canvas
        movie = Movie.model_construct(scenes=parts, **fields)
        return self._make_subject(movie, len(parts) - 1)

    def _validated(self, _validation: object) -> None:
        self._subjects.clear()
        self._pending.clear()
        self.changed.emit()

    def _next(self) -> None:
        if self._busy is not None or not self._pending:
            return
        key, index = self._pending.popitem(last=True)
        subject = self._subject(index)
        if subject is None or subject.key != key or key in self._images:
            self._next()  # changed since it was asked for, or done already
            return
        self._busy = key
        appeared = {path for path, state in subject.files if not self._watch(path, state)}
        if appeared:  # after its state was taken: ask again once this render is done
            QTimer.singleShot(0, lambda: self._refresh(appeared))
        self._tasks.run(
            self._renderer.render,
            subject.movie,
            self._document.base_dir,
            subject.t,
            self.scale_for(subject.movie),
            subject.files,
            done=lambda image, error: self._done(key, index, image, error),
        )

    def _done(
        self, key: str, index: int, image: QImage | None, error: BaseException | None
    ) -> None:
        self._busy = None
        if error is not None or image is None:
            log.warning("thumbnail of scene %d failed: %s", index + 1, error)
            image = QImage()  # cached as "no picture" so it is not retried in a loop
        else:
            self.rendered += 1
        self._images[key] = image
        while len(self._images) > MAX_CACHED:
            self._images.popitem(last=False)
        for row, subject in list(self._subjects.items()):
            if subject is not None and subject.key == key:
                self.ready.emit(row)
        self._next()

    # ------------------------------------------------------------------ watching media files

    def _watch(self, path: str, state: FileState) -> bool:
        """Watch a file a thumbnail drew, or (missing) the nearest folder it would appear in.
        False when a missing file turned up meanwhile (its folder's change may be missed)."""
        if state is not None:
            if path not in self._watched and self._watcher.addPath(path):
                self._watched.add(path)
            return True
        folder = Path(path).parent
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        name = str(folder)
        waiting = self._missing.setdefault(name, set())
        if not waiting:
            self._watcher.addPath(name)
        waiting.add(path)
        return file_state(path) is None

    def _media_changed(self, path: str) -> None:
        """A watched file was written, replaced or removed: re-render the scenes using it."""
        self._watched.discard(path)
        self._watcher.removePath(path)
        # a rewrite may replace the file (it is watched anew when it is drawn again) or
        # remove it for a moment (then its folder is watched until it is back)
        self._refresh({path})

    def _folder_changed(self, folder: str) -> None:
        """A folder with awaited files changed: those that exist now re-render their scenes."""
        waiting = self._missing.pop(folder, set())
        self._watcher.removePath(folder)
        appeared = {path for path in waiting if file_state(path) is not None}
        for path in waiting - appeared:
            if not self._watch(path, None):  # still awaited, maybe in a folder made now
                appeared.add(path)
        if appeared:
            self._refresh(appeared)

    def _refresh(self, paths: set[str]) -> None:
        """Rows whose pictures draw any of `paths` get a new key (with the files' new state)
        and are asked for again; rows not drawing them keep theirs."""
        self._renderer.invalidate()
        rows = [
            row
            for row, subject in self._subjects.items()
            if subject is not None and any(path in paths for path, _state in subject.files)
        ]
        for row in rows:
            del self._subjects[row]
        for row in rows:
            self.ready.emit(row)

    def close(self) -> None:
        """Stop rendering and close the media decoders."""
        self._tasks.shutdown()
        self._renderer.close()


def _valid_scene(data: Any) -> Scene | None:
    try:
        return Scene.model_validate(data)
    except ValueError:
        return None


def _valid_field(name: str, value: Any) -> Any:
    try:
        return getattr(Movie.model_validate({name: value, "scenes": [{"duration": 1}]}), name)
    except ValueError:
        return None
