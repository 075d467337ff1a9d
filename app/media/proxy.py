"""Preview proxies: small all-keyframe copies of videos, so scrubbing the preview is instant.

A 1080p H.264 source with a normal GOP must decode up to a GOP's worth of frames to show one
arbitrary frame (tens of milliseconds); its proxy, at most `PROXY_HEIGHT` pixels high and encoded
with every frame a keyframe, shows any frame after decoding exactly one small picture. Proxies
keep the source's frame timestamps (so frame n of the proxy is frame n of the source), are
already rotated for display, and are only ever used by the preview — renders read the source.

Proxies live in a folder keyed by the source's absolute path, size and modification time, are
written atomically, and are built on one background thread (`ProxyStore.request`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from app.media.errors import MediaError
from app.media.probe import display_rotation, open_container

PROXY_HEIGHT = 540
_CRF = "20"


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def build_proxy(source: Path, target: Path, max_height: int = PROXY_HEIGHT) -> Path:
    """Transcode `source` into an all-intra H.264 proxy at `target` (atomically)."""
    container = open_container(source)
    temp: Path | None = None
    try:
        streams = [
            s
            for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not streams:
            raise MediaError(str(source), "no_video", "The file has no video")
        stream = streams[0]
        stream.thread_type = "AUTO"
        rotation = display_rotation(stream)
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        if rotation in (90, 270):
            width, height = height, width
        factor = min(1.0, max_height / height)
        out_w, out_h = _even(width * factor), _even(height * factor)
        enc_w, enc_h = (out_h, out_w) if rotation in (90, 270) else (out_w, out_h)
        time_base = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        temp = Path(name)
        with av.open(str(temp), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=rate)
            video.width, video.height = out_w, out_h
            video.pix_fmt = "yuv420p"
            video.time_base = time_base
            video.options = {"preset": "ultrafast", "crf": _CRF, "g": "1", "bf": "0"}
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                small = frame.reformat(width=enc_w, height=enc_h, format="rgb24")
                pixels = small.to_ndarray()
                if rotation:
                    pixels = np.ascontiguousarray(np.rot90(pixels, k=rotation // 90))
                picture = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                picture.pts = frame.pts
                picture.time_base = time_base
                for packet in video.encode(picture):
                    out.mux(packet)
            for packet in video.encode(None):
                out.mux(packet)
        temp.chmod(0o644)
        temp.replace(target)
        temp = None
        return target
    except av.error.FFmpegError as exc:
        raise MediaError(
            str(source), "proxy_failed", f"Cannot make a preview proxy: {exc}"
        ) from None
    finally:
        container.close()
        if temp is not None:
            temp.unlink(missing_ok=True)


class ProxyStore:
    """Proxies in `root`, built on demand on one background thread."""

    def __init__(self, root: Path, max_height: int = PROXY_HEIGHT) -> None:
        self.root = Path(root)
        self.max_height = max_height
        self._lock = threading.Lock()
        self._queue: list[Path] = []
        self._failed: set[Path] = set()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[Path], None]] = []

    def path_for(self, source: Path) -> Path:
        """Where the proxy of `source` (in its current version) is or will be."""
        source = Path(source).resolve()
        stat = source.stat()
        key = f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{self.max_height}"
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.mp4"

    def ready(self, source: Path) -> Path | None:
        """The finished proxy of `source`, or None."""
        try:
            proxy = self.path_for(source)
        except OSError:
            return None
        return proxy if proxy.is_file() else None

    def on_ready(self, listener: Callable[[Path], None]) -> None:
        """Call `listener(source)` (on the builder thread) when a proxy has been built."""
        with self._lock:
            self._listeners.append(listener)

    def request(self, source: Path) -> None:
        """Build the proxy of `source` in the background unless it exists or failed before."""
        source = Path(source)
        with self._lock:
            if source in self._queue or source in self._failed or self.ready(source):
                return
            self._queue.append(source)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="proxy", daemon=True)
                self._thread.start()

    def build(self, source: Path) -> Path:
        """Build (or find) the proxy of `source` now, on this thread."""
        existing = self.ready(source)
        return existing or build_proxy(Path(source), self.path_for(source), self.max_height)

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the background queue is empty (tests, benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    return
                source = self._queue[0]
            try:
                self.build(source)
                ok = True
            except (MediaError, OSError):
                ok = False
            with self._lock:
                self._queue.pop(0)
                if not ok:
                    self._failed.add(source)
                listeners = list(self._listeners)
            if ok:
                for listener in listeners:
                    listener(source)
