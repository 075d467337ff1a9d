"""Frames for the studio's preview: the render's own compositor, at any scale, with a cache.

`PreviewSource.frame(t, scale)` returns exactly the picture the final render makes at that time
(same `Compositor`, same media code), only smaller. Frames are cached in an LRU bounded in
megabytes; media decoders stay open across calls (sequential playback decodes forward without
seeking); and `start_prefetch` renders ahead of the playhead on a background thread so playback
never waits for a frame it could have had.

Media that fails to load is drawn as a placeholder and listed in `errors` (never raised): the
preview goes on. Thread-safe: one lock serialises compositing (a compositor is not thread-safe,
and QPainter holds the GIL anyway); decoding inside it releases the GIL.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QImage

from app.media.cache import MediaCache
from app.media.proxy import ProxyStore
from app.render.compositor import Compositor, ElementError
from app.render.fonts import ensure_qt
from app.render.media_provider import MediaFiles
from app.script.model import Movie
from app.script.timeline import Timeline

DEFAULT_CACHE_MB = 256
#: How many frames the prefetcher keeps ready ahead of the playhead.
PREFETCH_AHEAD = 12


class PreviewSource:
    """Preview frames of one movie (replace it with `set_movie` after an edit)."""

    def __init__(
        self,
        movie: Movie,
        base_dir: Path | None = None,
        *,
        cache_mb: float = DEFAULT_CACHE_MB,
        media_cache: MediaCache | None = None,
        proxies: ProxyStore | None = None,
        on_error: Callable[[ElementError], None] | None = None,
    ) -> None:
        """`proxies`: where all-keyframe preview copies of videos are kept (see
        `app.media.proxy`); None reads the sources themselves."""
        ensure_qt()
        self._proxies = proxies
        self._lock = threading.RLock()
        self._media_cache = media_cache
        self._on_error = on_error
        self.base_dir = base_dir
        self.max_bytes = int(cache_mb * 1024 * 1024)
        self._frames: OrderedDict[tuple[int, float], QImage] = OrderedDict()
        self._bytes = 0
        self._providers: dict[float, MediaFiles] = {}
        self._compositors: dict[float, Compositor] = {}
        self._prefetch: _Prefetcher | None = None
        self.movie = movie
        self.timeline = Timeline(movie)

    # ---- the document ------------------------------------------------------------------------

    def set_movie(self, movie: Movie, base_dir: Path | None = None) -> None:
        """Show another version of the movie: cached frames go, open decoders stay."""
        with self._lock:
            self.movie = movie
            self.timeline = Timeline(movie)
            if base_dir is not None:
                self.base_dir = base_dir
            self._compositors.clear()
            self._frames.clear()
            self._bytes = 0

    @property
    def errors(self) -> list[ElementError]:
        """Media problems of the current movie, one per element path."""
        with self._lock:
            seen: dict[str, ElementError] = {}
            for compositor in self._compositors.values():
                for error in compositor.errors:
                    seen.setdefault(error.path, error)
            return list(seen.values())

    @property
    def fps(self) -> float:
        return self.movie.fps

    @property
    def duration(self) -> float:
        return self.timeline.total

    @property
    def frame_count(self) -> int:
        return self.timeline.frame_count()

    def frame_index(self, t: float) -> int:
        """The frame on screen at time t (frame n covers [n/fps, (n+1)/fps))."""
        index = math.floor(t * self.movie.fps + 1e-6)
        return min(max(index, 0), self.frame_count - 1)

    # ---- frames ------------------------------------------------------------------------------

    def frame(self, t: float, scale: float = 0.5) -> QImage:
        """The frame shown at time `t` at `scale`, from the cache when it is there."""
        return self.frame_at_index(self.frame_index(t), scale)

    def frame_at_index(self, index: int, scale: float = 0.5) -> QImage:
        key = (index, scale)
        with self._lock:
            cached = self._frames.get(key)
            if cached is not None:
                self._frames.move_to_end(key)
                return cached
            image = self._compositor(scale).render_frame(index / self.movie.fps, scale)
            self._store(key, image)
            return image

    def cached(self, index: int, scale: float) -> bool:
        with self._lock:
            return (index, scale) in self._frames

    @property
    def cache_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def _store(self, key: tuple[int, float], image: QImage) -> None:
        size = image.sizeInBytes()
        if size > self.max_bytes:
            return
        self._frames[key] = image
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._frames.popitem(last=False)
            self._bytes -= old.sizeInBytes()

    def _compositor(self, scale: float) -> Compositor:
        compositor = self._compositors.get(scale)
        if compositor is None:
            provider = self._providers.get(scale)
            if provider is None:
                provider = MediaFiles(
                    self._media_cache,
                    video_scale=scale if scale < 1 else None,
                    proxies=self._proxies,
                )
                self._providers[scale] = provider
            compositor = Compositor(
                self.movie, provider, self.base_dir, strict=False, on_error=self._on_error
            )
            self._compositors[scale] = compositor
        return compositor

    # ---- playback ----------------------------------------------------------------------------

    def start_prefetch(self, t: float, scale: float, ahead: int = PREFETCH_AHEAD) -> None:
        """Keep the `ahead` frames after time `t` rendered, on a background thread; call
        `advance` as the playhead moves and `stop_prefetch` when playback stops."""
        self.stop_prefetch()
        self._prefetch = _Prefetcher(self, self.frame_index(t), scale, ahead)

    def advance(self, t: float) -> None:
        if self._prefetch is not None:
            self._prefetch.move_to(self.frame_index(t))

    def stop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch.stop()
            self._prefetch = None

    def close(self) -> None:
        """Stop prefetching and close every decoder."""
        self.stop_prefetch()
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()
            self._compositors.clear()
            self._frames.clear()
            self._bytes = 0


class _Prefetcher:
    """Renders frames [playhead, playhead + ahead] into the source's cache, in order."""

    def __init__(self, source: PreviewSource, index: int, scale: float, ahead: int) -> None:
        self.source = source
        self.scale = scale
        self.ahead = ahead
        self.playhead = index
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="preview-prefetch", daemon=True)
        self._thread.start()

    def move_to(self, index: int) -> None:
        with self._wake:
            self.playhead = index
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _next_missing(self) -> int | None:
        last = min(self.playhead + self.ahead, self.source.frame_count - 1)
        for index in range(self.playhead, last + 1):
            if not self.source.cached(index, self.scale):
                return index
        return None

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                index = self._next_missing()
                if index is None:
                    self._wake.wait(timeout=0.5)
                    continue
            self.source.frame_at_index(index, self.scale)
