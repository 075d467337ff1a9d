"""The compositor's `MediaProvider` over app/media: files read directly, URLs via the media cache.

Video readers stay open between frames, because `VideoReader.frame_at` is fast only when it can
decode forward from where it was; the render engine asks for increasing times. One reader per
source: a clip used twice at different times in one frame makes its reader seek, which works but
is slower. Close the provider (or use `with`) to release the decoders.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from types import TracebackType

from app.media.cache import MediaCache
from app.media.decode import VideoReader, load_image
from app.media.errors import MediaError
from app.media.picture import Picture
from app.script.sources import Source


class MediaFiles:
    """A `MediaProvider` reading local files and cached downloads.

    `cache` downloads http(s) sources (without one, URLs are a `MediaError`); `video_scale`
    decodes video frames at that fraction of their size (the preview at scale 0.5 needs no more
    pixels than that); `max_readers` bounds the open decoders, least recently used closed first.
    """

    def __init__(
        self,
        cache: MediaCache | None = None,
        *,
        video_scale: float | None = None,
        max_readers: int = 16,
        max_stills: int = 8,
    ) -> None:
        self.cache = cache
        self.video_scale = video_scale
        self.max_readers = max(1, max_readers)
        self.max_stills = max(0, max_stills)
        self._readers: OrderedDict[Path, VideoReader] = OrderedDict()
        self._stills: OrderedDict[Path, Picture] = OrderedDict()

    def path(self, source: Source) -> Path:
        """The local file of a source, downloading a URL into the cache first."""
        if source.path is not None:
            return source.path
        url = source.url or ""
        if self.cache is None:
            raise MediaError(url, "network", "Media from the web needs a media cache")
        return self.cache.fetch(url)

    def still(self, source: Source) -> Picture:
        path = self.path(source)
        picture = self._stills.get(path)
        if picture is None:
            picture = load_image(path)
            if self.max_stills:
                self._stills[path] = picture
                while len(self._stills) > self.max_stills:
                    self._stills.popitem(last=False)
        else:
            self._stills.move_to_end(path)
        return picture

    def video_frame(self, source: Source, source_time: float) -> Picture:
        return self._reader(source).frame_at(source_time)

    def video_duration(self, source: Source) -> float | None:
        return self._reader(source).duration

    def _reader(self, source: Source) -> VideoReader:
        path = self.path(source)
        reader = self._readers.get(path)
        if reader is None:
            reader = VideoReader(path, scale=self.video_scale)
            self._readers[path] = reader
            while len(self._readers) > self.max_readers:
                _, oldest = self._readers.popitem(last=False)
                oldest.close()
        else:
            self._readers.move_to_end(path)
        return reader

    def close(self) -> None:
        """Close every open decoder; the provider can be used again afterwards."""
        while self._readers:
            _, reader = self._readers.popitem()
            reader.close()
        self._stills.clear()

    def __enter__(self) -> MediaFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
