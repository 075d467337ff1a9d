"""Writing MP4 files: H.264 (yuv420p) + AAC stereo 48 kHz, `+faststart`, always atomically.

Output goes to a temporary file next to the target and is renamed over it only when complete,
so a cancelled or failed render never leaves a half-written movie at the user's path.

Quality presets (libx264 preset / CRF; lower CRF = better and bigger):

    low     veryfast / 28   drafts and previews: ~3x faster than medium, visibly soft
    medium  fast     / 23   the default: x264's default quality at a quicker preset
    high    medium   / 18   near-transparent for final renders

The slowest preset stops at `medium`: `slow` costs about twice the time for a few percent of
size at equal CRF, which is not worth it on a desktop render. AAC bit rates: 96/160/192 kb/s.

`join_segments` concatenates separately rendered video-only segments (rendered in parallel by
worker processes) without re-encoding them and adds the mixed audio once, streamed block by
block (see `app.media.audio.mix_blocks`) so a long movie's sound is never held whole.

Finished files get the permissions of any file the user creates (0o666 minus the umask), not the
0o600 a `tempfile.mkstemp` file would keep through the rename.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import av
import av.audio.stream
import av.container
import av.error
import av.video.stream
import numpy as np
import numpy.typing as npt

from app.media.errors import MediaError

Quality = Literal["low", "medium", "high"]

AudioBlocks = npt.NDArray[np.float32] | Iterable[npt.NDArray[np.float32]]
"""Audio for `join_segments`: one (N, 2) float32 array, or consecutive (n, 2) blocks of it."""

SAMPLE_RATE = 48000

PRESETS: dict[str, tuple[str, int, int]] = {
    # quality: (x264 preset, CRF, AAC bit rate)
    "low": ("veryfast", 28, 96_000),
    "medium": ("fast", 23, 160_000),
    "high": ("medium", 18, 192_000),
}

_AUDIO_CHUNK = 1 << 15  # samples per AudioFrame handed to the encoder


def _rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction: 29.97 becomes 30000/1001, 30.0 becomes 30."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


def _temp_beside(target: Path) -> Path:
    """A new empty file next to `target` (same file system, so the final rename is atomic).

    Created like `mkstemp` (exclusively, under a random name) but with mode 0o666 filtered by
    the process umask, as for any file the user creates: the rename keeps the temporary file's
    mode, and mkstemp's 0o600 would leave the finished movie unreadable to others.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
            try:
                fd = os.open(temp, flags, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return temp
        raise FileExistsError(f"no free temporary name next to {target}")
    except OSError as exc:
        raise MediaError(
            str(target), "write_failed", f"Cannot create the file: {exc.strerror or exc}"
        ) from None


def _open_output(temp: Path, target: Path) -> av.container.OutputContainer:
    try:
        return av.open(str(temp), mode="w", format="mp4", options={"movflags": "+faststart"})
    except (av.error.FFmpegError, OSError) as exc:
        temp.unlink(missing_ok=True)
        raise MediaError(str(target), "write_failed", f"Cannot create the file: {exc}") from None


def _add_video(
    container: av.container.OutputContainer,
    width: int,
    height: int,
    rate: Fraction,
    quality: Quality,
    gop: int | None,
) -> av.video.stream.VideoStream:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"H.264 yuv420p needs positive even dimensions, got {width}x{height}")
    preset, crf, _ = PRESETS[quality]
    stream = container.add_stream("libx264", rate=rate)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / rate
    options: dict[str, object] = {"preset": preset, "crf": str(crf)}
    if gop is not None:
        if gop < 1:
            raise ValueError("gop must be >= 1")
        stream.gop_size = gop
        options["keyint_min"] = str(min(gop, 25))
        options["sc_threshold"] = "0"  # keep keyframes exactly every `gop` frames
    stream.options = options
    stream.thread_type = "AUTO"
    return stream


def _add_audio(container: av.container.OutputContainer, quality: Quality) -> _AudioEncoder:
    stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
    stream.bit_rate = PRESETS[quality][2]
    return _AudioEncoder(container, stream)


class _AudioEncoder:
    """Feeds (N, 2) float32 audio to an AAC stream with running timestamps."""

    def __init__(
        self, container: av.container.OutputContainer, stream: av.audio.stream.AudioStream
    ) -> None:
        self.container = container
        self.stream = stream
        self.samples_written = 0

    def write(self, samples: npt.NDArray[np.float32]) -> None:
        _check_audio(samples)
        for i in range(0, len(samples), _AUDIO_CHUNK):
            part = np.clip(samples[i : i + _AUDIO_CHUNK], -1.0, 1.0).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(part.T), format="fltp", layout="stereo"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self.samples_written
            frame.time_base = Fraction(1, SAMPLE_RATE)
            self.samples_written += len(part)
            self.container.mux(self.stream.encode(frame))

    def flush(self) -> None:
        self.container.mux(self.stream.encode(None))


def _check_audio(samples: npt.NDArray[np.float32]) -> None:
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"audio must have shape (N, 2), got {samples.shape}")


class _AudioFeed:
    """Hands audio to an encoder up to a requested sample position, pulling blocks from an
    iterator only when needed: at most one block is held at a time."""

    def __init__(self, audio: AudioBlocks) -> None:
        if isinstance(audio, np.ndarray):
            _check_audio(audio)
            whole = audio
            self._blocks: Iterator[npt.NDArray[np.float32]] = (
                whole[i : i + _AUDIO_CHUNK] for i in range(0, len(whole), _AUDIO_CHUNK)
            )
        else:
            self._blocks = iter(audio)
        self._carry: npt.NDArray[np.float32] | None = None
        self.position = 0  # samples handed to the encoder

    def write_until(self, encoder: _AudioEncoder, until: int | None) -> None:
        """Write samples up to position `until` (all that remain if None)."""
        while until is None or self.position < until:
            if self._carry is None or len(self._carry) == 0:
                block = next(self._blocks, None)
                if block is None:
                    self._carry = None
                    return
                _check_audio(block)
                self._carry = block
            take = len(self._carry)
            if until is not None:
                take = min(take, until - self.position)
            encoder.write(self._carry[:take])
            self._carry = self._carry[take:]
            self.position += take

    def close(self) -> None:
        """Close a generator of blocks (e.g. the mixer's, which holds open decoders) when the
        join stops early."""
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()
        self._carry = None


PixelFormat = Literal["rgba", "bgra", "rgb24"]


class _FrameConverter:
    """Packed RGB(A)/BGRA pixels → a yuv420p frame, reusing one source frame per format.

    Copying into a preallocated frame's plane is ~15x cheaper than `VideoFrame.from_ndarray`
    at 1080p, and a format-only conversion needs no interpolation (POINT is exact here)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._frames: dict[str, av.VideoFrame] = {}

    def convert(self, pixels: npt.NDArray[np.uint8], fmt: PixelFormat | None) -> av.VideoFrame:
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            raise ValueError(f"frame must be uint8 (H, W, 3|4), got {pixels.dtype} {pixels.shape}")
        if pixels.shape[0] != self.height or pixels.shape[1] != self.width:
            raise ValueError(
                f"frame is {pixels.shape[1]}x{pixels.shape[0]}, expected {self.width}x{self.height}"
            )
        channels = pixels.shape[2]
        fmt = fmt or ("rgba" if channels == 4 else "rgb24")
        if (fmt == "rgb24") != (channels == 3):
            raise ValueError(f"{fmt} frames need {3 if fmt == 'rgb24' else 4} channels")
        frame = self._frames.get(fmt)
        if frame is None:
            frame = av.VideoFrame(self.width, self.height, fmt)
            self._frames[fmt] = frame
        plane = frame.planes[0]
        row = self.width * channels
        target = np.frombuffer(plane, dtype=np.uint8).reshape(self.height, plane.line_size)
        target[:, :row] = pixels.reshape(self.height, row)
        return frame.reformat(format="yuv420p", interpolation="POINT")


class Mp4Writer:
    """Encodes RGB(A) frames and float32 stereo audio to an MP4 at `path`, atomically.

    Call `close()` to finish (the file appears at `path` only then) or `abort()` to discard;
    used as a context manager it closes on success and aborts on an exception. Alpha is
    dropped (MP4/H.264 has none). `gop` sets the keyframe interval in frames (a short GOP makes
    previews seek fast).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        quality: Quality = "medium",
        audio: bool = True,
        gop: int | None = None,
    ) -> None:
        if quality not in PRESETS:
            raise ValueError(f"quality must be one of {sorted(PRESETS)}, got {quality!r}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.rate = _rate(fps)
        self._temp = _temp_beside(self.path)
        self._container = _open_output(self._temp, self.path)
        self._done = False
        try:
            self._video = _add_video(self._container, width, height, self.rate, quality, gop)
            self._audio = _add_audio(self._container, quality) if audio else None
        except BaseException:
            self.abort()
            raise
        self.frames_written = 0
        self._converter = _FrameConverter(width, height)

    def write_frame(
        self, pixels: npt.NDArray[np.uint8], pixel_format: PixelFormat | None = None
    ) -> None:
        """Append one frame: uint8 (height, width, 4) RGBA or (height, width, 3) RGB; with
        `pixel_format="bgra"`, 4-channel pixels in B, G, R, A byte order (what an opaque
        Qt ARGB32 image holds in memory on little-endian machines). Alpha is ignored."""
        self._check_open()
        frame = self._converter.convert(pixels, pixel_format)
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        self.frames_written += 1
        self._mux(self._video.encode(frame))

    def write_audio(self, samples: npt.NDArray[np.float32]) -> None:
        """Append float32 (N, 2) audio at 48 kHz (values outside -1..1 are clipped)."""
        self._check_open()
        if self._audio is None:
            raise ValueError("this writer was created with audio=False")
        try:
            self._audio.write(samples)
        except av.error.FFmpegError as exc:
            self.abort()
            raise MediaError(
                str(self.path), "write_failed", f"Encoding audio failed: {exc}"
            ) from None

    def close(self) -> None:
        """Flush the encoders, finish the file and move it to `path`."""
        self._check_open()
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.flush()
            self._container.close()
            os.replace(self._temp, self.path)
        except MediaError:
            raise
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise MediaError(
                str(self.path), "write_failed", f"Finishing the file failed: {exc}"
            ) from None
        self._done = True

    def abort(self) -> None:
        """Discard everything written; nothing appears at `path`."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._done:
            self.close()

    def _check_open(self) -> None:
        if self._done:
            raise ValueError("writer is already closed or aborted")

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        try:
            self._container.mux(packets)
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise MediaError(
                str(self.path), "write_failed", f"Writing the file failed: {exc}"
            ) from None


def join_segments(
    segment_paths: Sequence[str | Path],
    audio: AudioBlocks | None,
    out_path: str | Path,
    fps: float | Fraction,
    quality: Quality = "medium",
) -> None:
    """Concatenate video-only MP4 segments (same codec settings, each starting on a keyframe)
    into `out_path` without re-encoding, adding `audio` once as AAC.

    `audio` is 48 kHz float32 stereo: one (N, 2) array or an iterable of consecutive (n, 2)
    blocks of any sizes (e.g. `mix_blocks(...)`), consumed as the video is copied, so only one
    block is in memory at a time; all of it is written, and a generator is closed if the join
    fails. Packets are copied with their timestamps shifted by the duration of the segments
    before them; audio is encoded alongside (about a second ahead) so the muxer never has to
    buffer a whole stream. Errors from the audio iterator (e.g. a `MediaError` naming a source)
    propagate unchanged; nothing is left at `out_path` then.
    """
    if not segment_paths:
        raise ValueError("no segments to join")
    target = Path(out_path)
    rate = _rate(fps)
    feed = _AudioFeed(audio) if audio is not None else None
    ok = False
    try:
        temp = _temp_beside(target)
        out = _open_output(temp, target)
    except BaseException:
        if feed is not None:
            feed.close()
        raise
    try:
        encoder: _AudioEncoder | None = None
        out_video: av.video.stream.VideoStream | None = None
        offset = 0  # in the first segment's time base
        last_dts: int | None = None
        for seg_path in segment_paths:
            with av.open(str(seg_path)) as seg:
                if not seg.streams.video:
                    raise MediaError(str(seg_path), "no_video", "The segment has no video")
                src = seg.streams.video[0]
                if out_video is None:
                    out_video = out.add_stream_from_template(src)
                    out_video.time_base = src.time_base
                    if feed is not None:
                        encoder = _add_audio(out, quality)
                    time_base = src.time_base
                assert time_base is not None
                if src.time_base != time_base:
                    raise MediaError(str(seg_path), "write_failed", "Segments differ in time base")
                frame_ticks = round(1 / (rate * time_base))
                seg_end = offset
                for packet in seg.demux(src):
                    if packet.dts is None or packet.pts is None:
                        continue  # the demuxer's end-of-stream marker
                    duration = packet.duration or frame_ticks
                    packet.pts += offset
                    packet.dts += offset
                    if last_dts is not None and packet.dts <= last_dts:
                        packet.dts = last_dts + 1
                    last_dts = packet.dts
                    seg_end = max(seg_end, packet.pts + duration)
                    packet.stream = out_video
                    out.mux(packet)
                    if encoder is not None and feed is not None:
                        # Keep audio about a second ahead of the video for interleaving.
                        until = round(float(packet.pts * time_base) * SAMPLE_RATE) + SAMPLE_RATE
                        feed.write_until(encoder, until)
                offset = seg_end
        if encoder is not None and feed is not None:
            feed.write_until(encoder, None)
            encoder.flush()
        out.close()
        os.replace(temp, target)
        ok = True
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(
            str(target), "write_failed", f"Joining the segments failed: {exc}"
        ) from None
    finally:
        if feed is not None:
            feed.close()
        if not ok:
            with contextlib.suppress(Exception):
                out.close()
            temp.unlink(missing_ok=True)
