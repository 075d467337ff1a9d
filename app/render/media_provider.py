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
from app.media.proxy import ProxyStore
from app.script.sources import Source


class MediaFiles:
    """A `MediaProvider` reading local files and cached downloads.

    `cache` downloads http(s) sources (without one, URLs are a `MediaError`); `video_scale`
    decodes video frames at that fraction of their size (the preview at scale 0.5 needs no more
    pixels than that); `max_readers` bounds the open decoders, least recently used closed first.
    `proxies` (preview only): when the frames asked for are no larger than a proxy, read the
    video's all-keyframe proxy once it is built (and ask for it to be built) — same frames,
    same timestamps, far cheaper to scrub.
    """

    def __init__(
        self,
        cache: MediaCache | None = None,
        *,
        video_scale: float | None = None,
        max_readers: int = 16,
        max_stills: int = 8,
        proxies: ProxyStore | None = None,
    ) -> None:
        self.cache = cache
        self.proxies = proxies
        self._sizes: dict[Path, tuple[int, int]] = {}
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

    def _proxy(self, path: Path) -> Path | None:
        """The proxy to read instead of `path`, if one is useful and ready."""
        if self.proxies is None or self.video_scale is None or path not in self._sizes:
            return None
        if self._sizes[path][1] * self.video_scale > self.proxies.max_height:
            return None  # the proxy would be blurrier than what is asked for
        proxy = self.proxies.ready(path)
        if proxy is None:
            self.proxies.request(path)
        return proxy

    def _reader(self, source: Source) -> VideoReader:
        path = self.path(source)
        proxy = self._proxy(path)
        key = proxy or path
        reader = self._readers.get(key)
        if reader is None:
            if proxy is not None and self.video_scale is not None:
                width, height = self._sizes[path]
                size = (
                    max(1, round(width * self.video_scale)),
                    max(1, round(height * self.video_scale)),
                )
                reader = VideoReader(proxy, size=size)
                stale = self._readers.pop(path, None)
                if stale is not None:
                    stale.close()
            else:
                reader = VideoReader(path, scale=self.video_scale)
                self._sizes[path] = (reader.width, reader.height)
                self._proxy(path)  # its size is known now: ask for a proxy if one would help
            self._readers[key] = reader
            while len(self._readers) > self.max_readers:
                _, oldest = self._readers.popitem(last=False)
                oldest.close()
        else:
            self._readers.move_to_end(key)
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
