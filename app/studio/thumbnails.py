"""Scene thumbnails: the real compositor's frame at a scene's first second, made on a worker.

`SceneThumbnails.get(i)` answers at once with a cached image or None; a None also queues the
render (newest request first, so the rows the user is looking at now come before rows scrolled
past) and `ready(i)` says when it lands. Images are cached by what decides the picture — the
canvas, the scene's content, the previous scene's when a transition shows it, the time inside
the scene — so editing scene 7 re-renders scene 7 only, and reordering re-renders nothing.
Local media files are watched: re-exporting a clip refreshes the scenes that use it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, Signal
from PySide6.QtGui import QImage

from app.render.preview import PreviewSource
from app.script.model import Movie
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


def _scene_key(movie: Movie, index: int, timeline: Timeline, scale: float) -> str:
    scene = movie.scenes[index]
    offset = thumbnail_time(timeline, index) - timeline.scenes[index].start
    parts = [f"{movie.width}x{movie.height}@{scale:.5f}", f"{offset:.4f}", scene.model_dump_json()]
    transition = timeline.scenes[index].transition
    if transition is not None and index > 0 and offset < transition.duration:
        parts.append(movie.scenes[index - 1].model_dump_json())
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _local_files(movie: Movie, index: int, base_dir: Path | None) -> list[str]:
    files = []
    for element in movie.scenes[index].elements:
        src = getattr(element, "src", None)
        if isinstance(src, str):
            source = resolve_src(src, base_dir)
            if source.path is not None:
                files.append(str(source.path))
    return files


class _Renderer:
    """The worker side: one PreviewSource, switched to each request's movie."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: PreviewSource | None = None
        self._stale = False

    def render(self, movie: Movie, base_dir: Path | None, t: float, scale: float) -> QImage:
        with self._lock:
            if self._stale and self._source is not None:
                self._source.close()  # media changed on disk: reopen the decoders
                self._source = None
            self._stale = False
            if self._source is None:
                self._source = PreviewSource(movie, base_dir, cache_mb=8)
            elif self._source.movie is not movie or self._source.base_dir != base_dir:
                self._source.set_movie(movie, base_dir)
                self._source.base_dir = base_dir
            return self._source.frame(t, scale).copy()

    def invalidate(self) -> None:
        self._stale = True

    def close(self) -> None:
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None


class SceneThumbnails(QObject):
    """Lazily rendered, cached thumbnails of the scenes of `document.movie`."""

    #: the thumbnail of scene `index` is ready (call `get(index)` again)
    ready = Signal(int)

    def __init__(self, document: ScriptDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-thumbs", parent=self)
        self._renderer = _Renderer()
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._keys: dict[int, str] = {}
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._busy: str | None = None
        self._ratio = 1.0
        self._timeline: Timeline | None = None
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._media_changed)
        self._files_of: dict[str, set[str]] = {}  # media file → keys using it
        document.movie_changed.connect(self._movie_changed)
        self.rendered = 0  # how many thumbnails were actually rendered (tests, diagnostics)

    # ------------------------------------------------------------------ reading

    def set_device_ratio(self, ratio: float) -> None:
        """Render for this screen's device pixel ratio (sharp on HiDPI)."""
        ratio = max(1.0, min(ratio, 3.0))
        if ratio != self._ratio:
            self._ratio = ratio
            self._keys.clear()

    @property
    def scale(self) -> float:
        movie = self._document.movie
        return thumbnail_scale(movie, self._ratio) if movie is not None else 0.0

    def key(self, index: int) -> str | None:
        """The cache key of scene `index`'s picture (None when the movie has no such scene)."""
        movie = self._document.movie
        if movie is None or not 0 <= index < len(movie.scenes):
            return None
        key = self._keys.get(index)
        if key is None:
            key = _scene_key(movie, index, self._timeline_of(movie), self.scale)
            self._keys[index] = key
        return key

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

    def time_of(self, index: int) -> float | None:
        movie = self._document.movie
        if movie is None or not 0 <= index < len(movie.scenes):
            return None
        return thumbnail_time(self._timeline_of(movie), index)

    # ------------------------------------------------------------------ internals

    def _timeline_of(self, movie: Movie) -> Timeline:
        if self._timeline is None or self._timeline.movie is not movie:
            self._timeline = Timeline(movie)
        return self._timeline

    def _movie_changed(self, _movie: Movie) -> None:
        self._keys.clear()
        self._pending.clear()

    def _next(self) -> None:
        movie = self._document.movie
        if self._busy is not None or not self._pending or movie is None:
            return
        key, index = self._pending.popitem(last=True)
        if self.key(index) != key or key in self._images:  # changed since, or done already
            self._next()
            return
        self._busy = key
        t = thumbnail_time(self._timeline_of(movie), index)
        base_dir = self._document.base_dir
        for path in _local_files(movie, index, base_dir):
            self._files_of.setdefault(path, set()).add(key)
            if path not in self._watcher.files() and Path(path).is_file():
                self._watcher.addPath(path)
        self._tasks.run(
            self._renderer.render,
            movie,
            base_dir,
            t,
            self.scale,
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
        if self._keys.get(index) == key:
            self.ready.emit(index)
        else:  # the row now shows another scene with the same picture, or none
            for row, other in list(self._keys.items()):
                if other == key:
                    self.ready.emit(row)
        self._next()

    def _media_changed(self, path: str) -> None:
        self._renderer.invalidate()
        stale = self._files_of.pop(path, set())
        for key in stale:
            self._images.pop(key, None)
        # a rewrite replaces the file: watch the new one
        if path not in self._watcher.files() and Path(path).is_file():
            self._watcher.addPath(path)
        for row, key in list(self._keys.items()):
            if key in stale:
                self.ready.emit(row)

    def close(self) -> None:
        """Stop rendering and close the media decoders."""
        self._tasks.shutdown()
        self._renderer.close()
