"""probe() reports what a file holds, and names what is wrong with a file it cannot use."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from PIL import Image

from app.media.errors import MediaError
from app.media.probe import probe


def test_video_with_audio_reports_size_timing_and_codecs(clip: Path) -> None:
    info = probe(clip)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(2.0, abs=0.07)
    assert info.has_video and info.has_audio
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.rotation == 0
    assert not info.variable_frame_rate
    assert not info.is_still_image


def test_rotation_metadata_swaps_display_size(rotated_clip: Path) -> None:
    info = probe(rotated_clip)
    assert info.rotation == 90
    assert (info.width, info.height) == (240, 320)
    assert info.has_video and not info.has_audio


def test_audio_only_file(tone_file: Path) -> None:
    info = probe(tone_file)
    assert info.has_audio and not info.has_video
    assert info.audio_codec == "aac"
    assert info.duration == pytest.approx(1.5, abs=0.05)
    assert info.fps is None


def test_still_image_size_after_exif_orientation(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    Image.new("RGB", (40, 20), "red").save(path, exif=exif)
    info = probe(path)
    assert info.is_still_image
    assert (info.width, info.height) == (20, 40)
    assert info.duration is None and info.video_codec == "jpeg"


def _reason(path: Path) -> MediaError:
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.mp4").reason == "not_found"


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert _reason(path).reason == "empty"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "movie.mp4"
    folder.mkdir()
    assert _reason(folder).reason == "not_a_file"


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is a shopping list, not a movie\n" * 20)
    error = _reason(path)
    assert error.reason == "not_media"
    assert "not a video" in error.detail


def test_truncated_mp4_with_index_at_end(clip: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert _reason(path).reason == "truncated"


def test_truncated_mp4_with_index_at_front(tmp_path: Path, make_video: Callable[..., Path]) -> None:
    full = make_video(tmp_path / "full.mp4", frames=20, audio_rate=None)
    # Rewrite with the index first (faststart), then cut: it opens, but the data is missing.
    fast = tmp_path / "fast.mp4"
    with (
        av.open(str(full)) as src,
        av.open(str(fast), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = fast.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    cut = tmp_path / "fast_cut.mp4"
    cut.write_bytes(data[: len(data) - 500])
    assert _reason(cut).reason == "truncated"


def test_unsupported_codec(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    at = data.find(b"avc1", data.find(b"stsd"))
    data[at : at + 4] = b"zzz9"  # a sample entry no decoder knows
    path = tmp_path / "alien.mp4"
    path.write_bytes(bytes(data))
    error = _reason(path)
    assert error.reason == "unsupported_codec"
    assert "video" in error.detail


def test_copy_of_good_file_still_probes(clip: Path, tmp_path: Path) -> None:
    # Guards the truncation check against false alarms on a complete file.
    path = tmp_path / "copy.mov"
    shutil.copy(clip, path)
    assert probe(path).has_video
