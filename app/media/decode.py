"""Pictures out of media files: frame-accurate video frames for the compositor and stills.

`VideoReader.frame_at(t)` is called once per output frame, mostly with increasing `t`, so it
decodes forward without seeking while it can and only seeks when going backwards or past the
next keyframe. Scaling and the conversion to RGBA are done by FFmpeg's swscale in one step.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from types import TracebackType

import av
import av.error
import av.video.frame
import av.video.stream
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.media.errors import MediaError
from app.media.picture import Picture
from app.media.probe import check_file, display_rotation, open_container

# Without a keyframe index, jumping further ahead than this seeks instead of decoding through.
_FAR_AHEAD_SECONDS = 2.0
# With one, seek forward only if it skips at least this much video: decoding a few frames is
# cheaper than flushing the decoder and starting again at a keyframe.
_MIN_SKIP_SECONDS = 0.3
# Tolerance, in stream time-base ticks, for a requested time that lands on a frame's timestamp.
_PTS_EPSILON = 1e-3


class VideoReader:
    """Reads the frame shown at any time of a video's first video stream.

    `size=(w, h)` or `scale` ask for pictures at that display size (after rotation); frames past
    the end hold the last frame. Close it (or use `with`): containers hold reference cycles.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int] | None = None,
        scale: float | None = None,
    ) -> None:
        self.source = str(path)
        self._container = open_container(path)
        try:
            videos = [
                s
                for s in self._container.streams.video
                if not (s.disposition & av.stream.Disposition.attached_pic)
            ]
            if not videos or videos[0].codec_context is None:
                reason = "no_video" if not videos else "unsupported_codec"
                detail = (
                    "The file has no video" if not videos else "The video format is not supported"
                )
                raise MediaError(self.source, reason, detail)
            self._stream: av.video.stream.VideoStream = videos[0]
            self._stream.thread_type = "AUTO"
            self._rotation = display_rotation(self._stream)
            ctx = self._stream.codec_context
            stored_w, stored_h = ctx.width, ctx.height
            self.width, self.height = (
                (stored_h, stored_w) if self._rotation in (90, 270) else (stored_w, stored_h)
            )
            rate = self._stream.average_rate or self._stream.guessed_rate
            self.fps: float | None = float(rate) if rate else None
            self._time_base = float(self._stream.time_base or 0) or 1 / 90000
            self._start_pts = self._stream.start_time or 0
            self.duration: float | None = None
            if self._stream.duration is not None:
                self.duration = self._stream.duration * self._time_base
            elif self._container.duration is not None:
                self.duration = self._container.duration / av.time_base
            self._out_size = self._output_size(size, scale)
            self._keyframes = self._keyframe_stamps()
        except BaseException:
            self._container.close()
            raise
        self._frames: object = None  # the decoding generator, replaced on seek
        self._current: av.video.frame.VideoFrame | None = None
        self._lookahead: av.video.frame.VideoFrame | None = None
        self._eof = False
        self._picture: Picture | None = None
        self._picture_pts: int | None = None
        self._closed = False

    # ---- public -------------------------------------------------------------------------------

    def frame_at(self, t: float) -> Picture:
        """The frame on screen at `t` seconds from the start of the stream: the last frame whose
        timestamp is <= t (the first frame for t before it, the last frame past the end)."""
        if self._closed:
            raise ValueError("VideoReader is closed")
        target = self._start_pts + max(t, 0.0) / self._time_base + _PTS_EPSILON
        frame = self._advance_to(target)
        if self._picture is None or self._picture_pts != frame.pts:
            self._picture = self._convert(frame)
            self._picture_pts = frame.pts
        return self._picture

    def close(self) -> None:
        """Release the decoder and the file."""
        if not self._closed:
            self._closed = True
            self._current = self._lookahead = None
            self._frames = None
            self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------------

    def _output_size(
        self, size: tuple[int, int] | None, scale: float | None
    ) -> tuple[int, int] | None:
        if size is not None:
            w, h = int(size[0]), int(size[1])
        elif scale is not None:
            w = max(1, round(self.width * scale))
            h = max(1, round(self.height * scale))
        else:
            return None
        if w <= 0 or h <= 0:
            raise ValueError(f"output size must be positive, got {w}x{h}")
        return (w, h)

    def _keyframe_stamps(self) -> list[int] | None:
        entries = self._stream.index_entries
        if entries is None or len(entries) == 0:
            return None
        return sorted(e.timestamp for e in entries if e.is_keyframe)

    def _needs_seek(self, target: float) -> bool:
        current = self._current
        if current is None or current.pts is None:
            return False
        if target < current.pts:
            return True
        if self._keyframes:
            # Seek only if the last keyframe before the target is well past where we are.
            i = bisect.bisect_right(self._keyframes, target) - 1
            skip = (self._keyframes[i] - current.pts) * self._time_base if i >= 0 else 0.0
            return skip > _MIN_SKIP_SECONDS
        return (target - current.pts) * self._time_base > _FAR_AHEAD_SECONDS

    def _seek(self, target: float) -> None:
        self._container.seek(max(math.floor(target), 0), stream=self._stream, backward=True)
        self._frames = None
        self._current = self._lookahead = None
        self._eof = False

    def _decoded(self) -> av.video.frame.VideoFrame | None:
        """The next decoded frame, or None at the end (decode errors end the stream early)."""
        if self._frames is None:
            self._frames = self._container.decode(self._stream)
        try:
            while True:
                frame = next(self._frames)  # type: ignore[call-overload]
                if frame.pts is not None:
                    return frame  # type: ignore[no-any-return]
        except StopIteration:
            return None
        except av.error.FFmpegError:
            return None

    def _advance_to(self, target: float) -> av.video.frame.VideoFrame:
        current, ahead = self._current, self._lookahead
        if (
            current is not None
            and current.pts is not None
            and current.pts <= target
            and (self._eof or (ahead is not None and ahead.pts is not None and ahead.pts > target))
        ):
            return current
        if self._needs_seek(target):
            self._seek(target)
        while True:
            frame = self._lookahead or self._decoded()
            self._lookahead = None
            if frame is None:
                self._eof = True
                break
            assert frame.pts is not None
            # Before the first frame (or after a seek that landed late) the first one shows.
            if self._current is None or frame.pts <= target:
                self._current = frame
                continue
            self._lookahead = frame
            break
        if self._current is None:
            raise MediaError(self.source, "truncated", "No video frame could be decoded")
        return self._current

    def _convert(self, frame: av.video.frame.VideoFrame) -> Picture:
        quarter_turn = self._rotation in (90, 270)
        width = height = None
        if self._out_size is not None:
            w, h = self._out_size
            width, height = (h, w) if quarter_turn else (w, h)
        rgba = frame.reformat(width=width, height=height, format="rgba", interpolation="BILINEAR")
        pixels = rgba.to_ndarray()
        if self._rotation:
            pixels = np.rot90(pixels, k=self._rotation // 90)
        return Picture(np.ascontiguousarray(pixels, dtype=np.uint8))


def load_image(path: str | Path) -> Picture:
    """A still image (PNG, JPEG, WebP, GIF first frame, ...) as RGBA with its alpha kept and its
    EXIF orientation applied."""
    p = check_file(path)
    source = str(path)
    try:
        with Image.open(p) as img:
            img.seek(0)
            upright = ImageOps.exif_transpose(img)
            rgba = upright.convert("RGBA")
            pixels = np.asarray(rgba, dtype=np.uint8)
    except UnidentifiedImageError:
        raise MediaError(
            source, "not_an_image", "This is not an image file that can be read"
        ) from None
    except Image.DecompressionBombError:
        raise MediaError(source, "too_large", "The image has too many pixels to load") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            source, "truncated", f"The image is damaged or incomplete: {exc}"
        ) from None
    return Picture(np.ascontiguousarray(pixels))


def first_frame(path: str | Path, size: tuple[int, int] | None = None) -> Picture:
    """A video's first frame as a still (for thumbnails and poster frames)."""
    with VideoReader(path, size=size) as reader:
        return reader.frame_at(0.0)
