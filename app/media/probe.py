"""What is in a media file: size, timing, streams, rotation — and a clear `MediaError` if the file
cannot be used, so a broken source becomes a message at its element instead of a traceback.

The helpers `check_file` and `open_container` are shared by the decoders so every entry point
reports the same error kinds for the same problems.
"""

from __future__ import annotations

import itertools
import math
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.error
from PIL import Image, ImageOps, UnidentifiedImageError

from app.media.errors import MediaError

# Container formats built on ISO base media boxes; a box that claims more bytes than the file has
# means the file was cut short (interrupted copy or download).
_BOX_HEADER = struct.Struct(">I4s")
_KNOWN_TOP_BOXES = {
    b"ftyp",
    b"moov",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"uuid",
    b"pnot",
    b"meta",
    b"moof",
    b"mfra",
    b"sidx",
    b"styp",
    b"pdin",
}
_VFR_SAMPLE = 120  # timestamps looked at to decide whether the frame rate varies


@dataclass(frozen=True)
class MediaInfo:
    """A summary of one media file.

    `width`/`height` are the display size, i.e. after rotation metadata is applied (a portrait
    phone clip stored as 1920x1080 with rotation 90 reports 1080x1920). `rotation` is in the
    FFmpeg display-matrix convention: degrees counter-clockwise the stored picture must be
    turned for display, normalised to 0, 90, 180 or 270. Stills report `is_still_image` with no
    duration or frame rate.
    """

    duration: float | None
    width: int
    height: int
    fps: float | None
    variable_frame_rate: bool
    rotation: int
    has_video: bool
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    is_still_image: bool


def check_file(path: str | Path) -> Path:
    """Fail with a typed error unless `path` is a non-empty regular file (not a folder, FIFO or
    device, which would make a decoder block forever)."""
    p = Path(path)
    source = str(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise MediaError(source, "not_found", "The file does not exist") from None
    except PermissionError:
        raise MediaError(
            source, "permission_denied", "The file cannot be read (no permission)"
        ) from None
    except OSError as exc:
        raise MediaError(
            source, "not_found", f"The file cannot be opened: {exc.strerror}"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(source, "not_a_file", "This is a folder, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(source, "not_a_file", "This is not a regular file")
    if st.st_size == 0:
        raise MediaError(source, "empty", "The file is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise MediaError(source, "permission_denied", "The file cannot be read (no permission)")
    return p


def iso_box_truncated(path: Path) -> bool | None:
    """For MP4/MOV/M4A files, whether a top-level box runs past the end of the file.

    Returns None when the file does not look like an ISO base media file.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        first = f.read(8)
        if len(first) < 8 or first[4:8] not in _KNOWN_TOP_BOXES:
            return None
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(16)
            if len(header) < 8:
                return True
            box_size, kind = _BOX_HEADER.unpack_from(header)
            if kind not in _KNOWN_TOP_BOXES and not kind.isalnum():
                return None
            if box_size == 1:
                if len(header) < 16:
                    return True
                box_size = struct.unpack_from(">Q", header, 8)[0]
            elif box_size == 0:  # runs to the end of the file
                return False
            if box_size < 8:
                return None
            pos += box_size
        return pos > size


def open_container(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, translating FFmpeg's failures into `MediaError`."""
    p = check_file(path)
    source = str(path)
    truncated = iso_box_truncated(p)
    try:
        container = av.open(str(p), mode="r")
    except av.error.FFmpegError as exc:
        if truncated:
            raise MediaError(
                source, "truncated", "The file is incomplete (cut off before its end)"
            ) from None
        raise MediaError(
            source, "not_media", f"This is not a video, audio or image file FFmpeg can read: {exc}"
        ) from None
    except OSError as exc:
        raise MediaError(source, "not_media", f"The file cannot be read: {exc}") from None
    if truncated:
        container.close()
        raise MediaError(source, "truncated", "The file is incomplete (cut off before its end)")
    return container


def display_rotation(stream: av.video.stream.VideoStream) -> int:
    """Rotation of a video stream from its display matrix (or the legacy `rotate` tag):
    degrees counter-clockwise, one of 0, 90, 180, 270."""
    matrix = stream.codec_context.coded_side_data.get("display_matrix")
    degrees = 0.0
    if matrix is not None and len(matrix) >= 36:
        m = struct.unpack("<9i", matrix[:36])
        scale0 = math.hypot(m[0] / 65536, m[3] / 65536)
        scale1 = math.hypot(m[1] / 65536, m[4] / 65536)
        if scale0 > 0 and scale1 > 0:
            degrees = -math.degrees(math.atan2(m[1] / 65536 / scale1, m[0] / 65536 / scale0))
    else:
        tag = stream.metadata.get("rotate")
        if tag:
            try:
                degrees = -float(tag)  # the legacy tag counts clockwise
            except ValueError:
                degrees = 0.0
    return round(degrees / 90.0) % 4 * 90


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _variable_frame_rate(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> bool:
    """Whether frame durations differ, judged from the first timestamps (index or packets)."""
    stamps: list[int] = []
    entries = stream.index_entries
    if entries is not None and len(entries) > 2:
        stamps = [e.timestamp for e in entries[: _VFR_SAMPLE + 1]]
    else:
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    stamps.append(packet.pts)
                if len(stamps) > _VFR_SAMPLE:
                    break
        except av.error.FFmpegError:
            pass
    if len(stamps) < 3:
        return False
    stamps.sort()
    deltas = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    if not deltas:
        return False
    return max(deltas) > min(deltas) * 1.2 + 1


def _probe_still(p: Path, source: str) -> MediaInfo | None:
    try:
        with Image.open(p) as img:
            fmt = (img.format or "image").lower()
            if getattr(img, "n_frames", 1) > 1 and fmt not in ("gif", "png", "webp"):
                return None  # multi-frame TIFF/etc.: treat through FFmpeg if possible
            transposed = ImageOps.exif_transpose(img)
            width, height = transposed.size
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(source, "truncated", f"The image cannot be read: {exc}") from None
    except Image.DecompressionBombError:
        raise MediaError(source, "too_large", "The image has too many pixels to load") from None
    return MediaInfo(
        duration=None,
        width=width,
        height=height,
        fps=None,
        variable_frame_rate=False,
        rotation=0,
        has_video=False,
        has_audio=False,
        video_codec=fmt,
        audio_codec=None,
        is_still_image=True,
    )


def probe(path: str | Path) -> MediaInfo:
    """Describe a video, audio or still image file, or raise `MediaError` saying why it is
    unusable (`not_found`, `not_a_file`, `empty`, `not_media`, `truncated`, `unsupported_codec`).
    """
    p = check_file(path)
    source = str(path)
    still = _probe_still(p, source)
    if still is not None:
        return still
    container = open_container(p)
    try:
        videos = [s for s in container.streams.video if not _is_cover_art(s)]
        audios = list(container.streams.audio)
        video = videos[0] if videos else None
        audio = audios[0] if audios else None
        if video is None and audio is None:
            raise MediaError(source, "not_media", "The file has no video or audio streams")
        for stream, kind in ((video, "video"), (audio, "audio")):
            if stream is None:
                continue
            name = stream.codec_context.name if stream.codec_context is not None else "none"
            if name in ("none", "") or stream.codec_context is None:
                tag = stream.codec_tag if hasattr(stream, "codec_tag") else ""
                raise MediaError(
                    source,
                    "unsupported_codec",
                    f"The {kind} is in a format this program cannot decode"
                    + (f" ({tag})" if tag else ""),
                )
        duration: float | None = None
        if container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        elif video is not None and video.duration is not None:
            duration = float(video.duration * video.time_base)
        elif audio is not None and audio.duration is not None:
            duration = float(audio.duration * audio.time_base)
        width = height = 0
        fps: float | None = None
        rotation = 0
        vfr = False
        if video is not None:
            rotation = display_rotation(video)
            width, height = video.codec_context.width, video.codec_context.height
            if rotation in (90, 270):
                width, height = height, width
            rate = video.average_rate or video.guessed_rate or video.base_rate
            fps = float(rate) if rate else None
            vfr = _variable_frame_rate(container, video)
        return MediaInfo(
            duration=duration,
            width=width,
            height=height,
            fps=fps,
            variable_frame_rate=vfr,
            rotation=rotation,
            has_video=video is not None,
            has_audio=audio is not None,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            is_still_image=False,
        )
    finally:
        container.close()
