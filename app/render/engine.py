"""Rendering a whole movie to an MP4 file: offline, free, as fast as the machine allows.

    result = render_movie(movie, Path("out.mp4"), base_dir=script_folder, progress=print)

How: every media source is checked first (a missing file fails in a second, not after minutes
of rendering); the frames are split into contiguous segments rendered in parallel worker
processes (QPainter holds the GIL, so threads would not help), each segment is encoded to its
own video-only MP4, and the segments are joined without re-encoding while the audio, mixed once
for the whole movie, is encoded alongside. The output is written atomically: a failed or
cancelled render never leaves a partial file at `out_path`, and no worker outlives the call.

Frame n shows time n / fps; the movie has round(total duration × fps) frames.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.media.audio import AudioTrack, mix_blocks
from app.media.cache import MediaCache
from app.media.encode import Mp4Writer, join_segments
from app.media.errors import MediaError
from app.media.probe import MediaInfo, probe
from app.paths import cache_dir
from app.render.compositor import Compositor, RenderError, bgra_view, canvas_size
from app.render.fonts import ensure_qt
from app.render.media_provider import MediaFiles
from app.script.model import AudioElement, Movie, VideoElement
from app.script.sources import Source, resolve_src
from app.script.timeline import ElementSpan, Timeline

#: Fewer frames than this per worker is not worth a process start (~0.5 s each).
MIN_SEGMENT_FRAMES = 60
#: Default byte budget of the downloaded-media cache.
MEDIA_CACHE_BYTES = 4 * 1024**3

Progress = Callable[[float], None]
#: The byte order of the compositor's ARGB32 frames in memory.
_FRAME_BYTES: Literal["bgra"] = "bgra"
if sys.byteorder != "little":  # pragma: no cover - every supported desktop is little-endian
    raise ImportError("the render engine assumes a little-endian machine")


class RenderCancelled(Exception):
    """The render was cancelled; nothing was written at the output path."""


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int
    duration_seconds: float
    seconds_taken: float


@dataclass(frozen=True)
class _Job:
    """What a worker needs to render one segment (plain data: it crosses process lines)."""

    movie: dict[str, Any]
    base_dir: str | None
    cache_dir: str | None
    scale: float
    first: int
    end: int
    path: str


def default_jobs() -> int:
    """One worker per core."""
    return max(1, os.cpu_count() or 1)


def default_media_cache() -> MediaCache:
    """The per-user cache of downloaded media, shared by preview and render."""
    return MediaCache(cache_dir() / "media", MEDIA_CACHE_BYTES)


def plan_segments(frames: int, jobs: int) -> list[tuple[int, int]]:
    """Split frames [0, frames) into at most `jobs` contiguous ranges of similar length."""
    count = max(1, min(jobs, frames // MIN_SEGMENT_FRAMES or 1))
    bounds = [round(i * frames / count) for i in range(count + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _element_path(i: int, j: int) -> str:
    return f"scenes.{i}.elements.{j}"


def _local_path(source: Source, cache: MediaCache | None) -> Path:
    if source.path is not None:
        return source.path
    if cache is None:
        raise MediaError(source.url or "", "network", "Media from the web needs a media cache")
    return cache.fetch(source.url or "")


def preflight(
    movie: Movie, base_dir: Path | None, cache: MediaCache | None
) -> dict[tuple[int, int], tuple[Path, MediaInfo]]:
    """Open every media source once (downloading URLs into the cache); the first unusable one
    raises `RenderError` naming its element path and file."""
    found: dict[tuple[int, int], tuple[Path, MediaInfo]] = {}
    for i, scene in enumerate(movie.scenes):
        for j, element in enumerate(scene.elements):
            src = getattr(element, "src", None)
            if src is None:
                continue
            try:
                path = _local_path(resolve_src(src, base_dir), cache)
                info = probe(path)
            except MediaError as exc:
                raise RenderError(_element_path(i, j), src, exc.detail, exc.reason) from None
            if element.type == "image" and not (info.is_still_image or info.has_video):
                raise RenderError(_element_path(i, j), src, "This file has no picture", "no_video")
            if element.type == "video" and not info.has_video:
                raise RenderError(_element_path(i, j), src, "This file has no video", "no_video")
            if element.type == "audio" and not info.has_audio:
                raise RenderError(_element_path(i, j), src, "This file has no sound", "no_audio")
            found[(i, j)] = (path, info)
    return found


def audio_tracks(
    movie: Movie, media: dict[tuple[int, int], tuple[Path, MediaInfo]]
) -> list[AudioTrack]:
    """Every sound of the movie on its timeline: audio elements and un-muted video elements.

    An element's sound is cut at its scene's end (an element never outlives its scene)."""
    timeline = Timeline(movie)
    tracks: list[AudioTrack] = []
    for i, scene in enumerate(movie.scenes):
        for j, element in enumerate(scene.elements):
            if not isinstance(element, AudioElement | VideoElement):
                continue
            if isinstance(element, VideoElement) and (element.muted or element.volume <= 0):
                continue
            path, info = media[(i, j)]
            if not info.has_audio:
                continue
            tracks.append(sound_of(element, timeline.element_span(i, j), path, info))
    return tracks


def sound_of(
    element: AudioElement | VideoElement, span: ElementSpan, path: Path, info: MediaInfo
) -> AudioTrack:
    """One element's sound on the movie's timeline: the render's mix and the studio's preview
    both build their tracks here, so they cannot disagree."""
    return AudioTrack(
        path=path,
        start=span.start,
        duration=span.end - span.start,
        trim_start=element.trim_start,
        volume=element.volume,
        loop=element.loop,
        fade_in=element.fade_in if isinstance(element, AudioElement) else 0.0,
        fade_out=element.fade_out if isinstance(element, AudioElement) else 0.0,
        end=span.end,
        source_duration=info.duration,
    )


# ---- worker side -------------------------------------------------------------------------------

_progress_queue: Any = None
_cancel_event: Any = None


def _init_worker(progress_queue: Any, cancel_event: Any, niceness: int = 0) -> None:
    """Runs first in every worker process: Ctrl-C is the parent's business; a background
    render lowers its own priority so it never starves the process that serves requests."""
    global _progress_queue, _cancel_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    _progress_queue = progress_queue
    _cancel_event = cancel_event
    ensure_qt()


def _render_segment(job: _Job) -> tuple[str, ...]:
    """Render frames [first, end) to a video-only MP4. Returns ("ok",), ("cancelled",) or
    ("error", path, src, message, reason) — plain tuples, because they cross process lines."""
    try:
        return _render_frames(job, _progress_queue, _cancel_event)
    except RenderError as exc:
        return ("error", exc.path, exc.src, exc.message, exc.reason)
    except MediaError as exc:
        return ("error", "", exc.source, exc.detail, exc.reason)


def _render_frames(job: _Job, progress_queue: Any, cancel_event: Any) -> tuple[str, ...]:
    movie = Movie.model_validate(job.movie)
    cache = MediaCache(Path(job.cache_dir), MEDIA_CACHE_BYTES) if job.cache_dir else None
    base_dir = Path(job.base_dir) if job.base_dir else None
    width, height = canvas_size(movie, job.scale)
    video_scale = job.scale if job.scale < 1 else None
    report_every = max(1, round(movie.fps / 4))
    with (
        MediaFiles(cache, video_scale=video_scale) as media,
        Mp4Writer(Path(job.path), width, height, movie.fps, movie.quality, audio=False) as out,
    ):
        compositor = Compositor(movie, media, base_dir, strict=True)
        pending = 0
        for frame in range(job.first, job.end):
            if cancel_event is not None and cancel_event.is_set():
                out.abort()
                return ("cancelled",)
            image = compositor.render_frame(frame / movie.fps, job.scale)
            out.write_frame(bgra_view(image), pixel_format=_FRAME_BYTES)
            pending += 1
            if pending >= report_every:
                progress_queue.put(pending)
                pending = 0
        if pending:
            progress_queue.put(pending)
    return ("ok",)


# ---- parent side -------------------------------------------------------------------------------


class _LocalQueue:
    """The in-process stand-in for a multiprocessing queue (jobs=1 renders in this process)."""

    def __init__(self, on_frames: Callable[[int], None]) -> None:
        self.on_frames = on_frames

    def put(self, frames: int) -> None:
        self.on_frames(frames)


def render_movie(
    movie: Movie,
    out_path: Path,
    *,
    base_dir: Path | None = None,
    scale: float = 1.0,
    jobs: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    cache: MediaCache | None = None,
    niceness: int = 0,
) -> RenderResult:
    """Render `movie` to `out_path` (H.264 + AAC MP4). See the module docstring.

    `progress(fraction)` is called from the calling thread as frames complete (0 → 1; the final
    join and audio encode are the last few percent). `cancel` stops the render soon after it is
    set: `RenderCancelled` is raised. Unreadable media raises `RenderError` (element path, file).
    `niceness` > 0 runs the worker processes at a lower priority (a service rendering in the
    background); it has no effect on a render that fits in one segment (done in this process).
    """
    started = time.monotonic()
    out_path = Path(out_path)
    timeline = Timeline(movie)
    frames = timeline.frame_count()
    cancel = cancel or threading.Event()
    report = progress or (lambda fraction: None)
    cache = cache or default_media_cache()
    media = preflight(movie, base_dir, cache)
    tracks = audio_tracks(movie, media)
    if cancel.is_set():
        raise RenderCancelled()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".reelsmith-render-", dir=out_path.parent))
    try:
        segments = plan_segments(frames, jobs or default_jobs())
        template = _Job(
            movie=movie.model_dump(mode="json"),
            base_dir=str(base_dir) if base_dir else None,
            cache_dir=str(cache.root) if cache else None,
            scale=scale,
            first=0,
            end=0,
            path="",
        )
        paths = [work / f"segment-{k:03d}.mp4" for k in range(len(segments))]
        jobs_list = [
            _Job(**{**template.__dict__, "first": a, "end": b, "path": str(p)})
            for (a, b), p in zip(segments, paths, strict=True)
        ]
        done = 0

        def frames_done(count: int) -> None:
            nonlocal done
            done += count
            report(0.97 * done / frames)

        if len(jobs_list) == 1:
            ensure_qt()
            outcomes = [_outcome_local(jobs_list[0], _LocalQueue(frames_done), cancel)]
        else:
            try:
                outcomes = _run_pool(jobs_list, frames_done, cancel, niceness)
            except BrokenProcessPool:
                raise RenderError(
                    "", "", "A render worker stopped unexpectedly", "crashed"
                ) from None
        for outcome in outcomes:
            if outcome[0] == "error":
                _, path, src, message, reason = outcome
                raise RenderError(path, src, message, reason)
        if cancel.is_set() or any(o[0] == "cancelled" for o in outcomes):
            raise RenderCancelled()
        blocks = _audio_blocks(tracks, timeline.total, cancel)
        join_segments(paths, blocks, out_path, movie.fps, movie.quality)
        if cancel.is_set():
            out_path.unlink(missing_ok=True)
            raise RenderCancelled()
        report(1.0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RenderResult(out_path, frames, frames / movie.fps, time.monotonic() - started)


def _outcome_local(
    job: _Job, progress_queue: _LocalQueue, cancel: threading.Event
) -> tuple[str, ...]:
    try:
        return _render_frames(job, progress_queue, cancel)
    except RenderError as exc:
        return ("error", exc.path, exc.src, exc.message, exc.reason)


def _audio_blocks(
    tracks: list[AudioTrack], total: float, cancel: threading.Event
) -> Iterator[npt.NDArray[np.float32]]:
    """The movie's mix as blocks, stopping early when cancelled. A movie without sound still
    gets a (silent) AAC track, so every output has the same streams."""

    def blocks() -> Iterator[npt.NDArray[np.float32]]:
        for block in mix_blocks(tracks, total):
            if cancel.is_set():
                return
            yield block

    return blocks()


def _run_pool(
    jobs_list: list[_Job],
    frames_done: Callable[[int], None],
    cancel: threading.Event,
    niceness: int = 0,
) -> list[tuple[str, ...]]:
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    cancel_event = context.Event()
    pool = ProcessPoolExecutor(
        max_workers=len(jobs_list),
        mp_context=context,
        initializer=_init_worker,
        initargs=(progress_queue, cancel_event, niceness),
    )
    futures: list[Future[tuple[str, ...]]] = []
    try:
        futures = [pool.submit(_render_segment, job) for job in jobs_list]
        pending = set(futures)
        while pending:
            if cancel.is_set():
                cancel_event.set()
            _drain(progress_queue, frames_done, timeout=0.1)
            finished, pending = wait(pending, timeout=0, return_when=FIRST_EXCEPTION)
            if any(f.result()[0] == "error" for f in finished if f.exception() is None):
                cancel_event.set()  # one segment failed: stop the others early
        _drain(progress_queue, frames_done, timeout=0)
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        cancel.set()
        cancel_event.set()
        raise
    finally:
        if cancel.is_set():
            cancel_event.set()
        pool.shutdown(wait=True, cancel_futures=True)
        progress_queue.close()
        progress_queue.join_thread()


def _drain(progress_queue: Any, frames_done: Callable[[int], None], timeout: float) -> None:
    try:
        frames_done(progress_queue.get(timeout=timeout) if timeout else progress_queue.get_nowait())
        while True:
            frames_done(progress_queue.get_nowait())
    except queue.Empty:
        pass
    except (OSError, ValueError):  # the queue was closed under us during shutdown
        pass
