"""Mp4Writer writes playable H.264/AAC MP4s atomically; join_segments concatenates without
re-encoding."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from app.media.decode import VideoReader
from app.media.encode import Mp4Writer, join_segments
from app.media.errors import MediaError
from tests.unit.media.conftest import decode_reference, frame_colour, index_of, umask

W, H, FPS = 160, 96, 25


def _frame(i: int, alpha: bool = True) -> np.ndarray:
    pixels = np.empty((H, W, 4 if alpha else 3), np.uint8)
    pixels[..., :3] = frame_colour(i)
    if alpha:
        pixels[..., 3] = 255
    return pixels


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * 48000)) / 48000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def _streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        info: dict[str, object] = {
            "size": (v.codec_context.width, v.codec_context.height),
            "fps": float(v.average_rate or 0),
            "frames": frames,
            "vcodec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
        }
        if c.streams.audio:
            a = c.streams.audio[0]
            info.update(acodec=a.codec_context.name, rate=a.rate, channels=a.channels)
    return info


def test_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, W, H, FPS, quality="low") as writer:
        for i in range(50):
            writer.write_frame(_frame(i, alpha=i % 2 == 0))  # RGBA and RGB both accepted
        writer.write_audio(_tone(2.0))
    info = _streams(path)
    assert info["size"] == (W, H) and info["fps"] == pytest.approx(FPS)
    assert info["frames"] == 50
    assert (info["vcodec"], info["pix_fmt"]) == ("h264", "yuv420p")
    assert (info["acodec"], info["rate"], info["channels"]) == ("aac", 48000, 2)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart
    with VideoReader(path) as reader:
        assert [index_of(reader.frame_at(i / FPS).pixels) for i in range(0, 50, 7)] == list(
            range(0, 50, 7)
        )
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_short_gop_puts_keyframes_every_n_frames(tmp_path: Path) -> None:
    path = tmp_path / "gop.mp4"
    with Mp4Writer(path, W, H, FPS, quality="low", audio=False, gop=5) as writer:
        for i in range(20):
            writer.write_frame(_frame(i))
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        keys = [f.pts for f in c.decode(v) if f.key_frame]
        assert len(keys) == 4
        assert not c.streams.audio


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    writer = Mp4Writer(path, W, H, FPS)
    writer.write_frame(_frame(0))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_with_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous render")
    with pytest.raises(RuntimeError), Mp4Writer(path, W, H, FPS) as writer:
        writer.write_frame(_frame(0))
        raise RuntimeError("render failed")
    assert path.read_bytes() == b"previous render"
    assert list(tmp_path.iterdir()) == [path]


def test_wrong_frame_size_is_refused(tmp_path: Path) -> None:
    with Mp4Writer(tmp_path / "x.mp4", W, H, FPS, audio=False) as writer, pytest.raises(ValueError):
        writer.write_frame(np.zeros((H + 2, W, 4), np.uint8))


def test_odd_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Mp4Writer(tmp_path / "x.mp4", 161, 96, FPS)
    assert list(tmp_path.iterdir()) == []


def _segment(path: Path, first: int, count: int) -> Path:
    with Mp4Writer(path, W, H, FPS, quality="low", audio=False, gop=10) as writer:
        for i in range(first, first + count):
            writer.write_frame(_frame(i))
    return path


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_join_segments_copies_packets_and_adds_audio(tmp_path: Path) -> None:
    segments = [
        _segment(tmp_path / "s0.mp4", 0, 20),
        _segment(tmp_path / "s1.mp4", 20, 15),
        _segment(tmp_path / "s2.mp4", 35, 10),
    ]
    out = tmp_path / "movie.mp4"
    join_segments(segments, _tone(45 / FPS), out, FPS, quality="low")
    info = _streams(out)
    assert info["frames"] == 45
    assert (info["acodec"], info["rate"], info["channels"]) == ("aac", 48000, 2)
    # Not re-encoded: the output's video packets are the segments' packets, byte for byte.
    assert _packets(out) == _packets(segments[0]) + _packets(segments[1]) + _packets(segments[2])
    with VideoReader(out) as reader:
        shown = [index_of(reader.frame_at(i / FPS).pixels) for i in range(45)]
        assert shown == list(range(45))
        assert reader.duration == pytest.approx(45 / FPS, abs=0.05)
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.mp4", "s0.mp4", "s1.mp4", "s2.mp4"]


def test_join_segments_without_audio(tmp_path: Path) -> None:
    segments = [_segment(tmp_path / "a.mp4", 0, 5), _segment(tmp_path / "b.mp4", 5, 5)]
    out = tmp_path / "movie.mp4"
    join_segments(segments, None, out, FPS)
    info = _streams(out)
    assert info["frames"] == 10 and "acodec" not in info


# ---- streamed audio and file modes -------------------------------------------------------------


def _blocks(audio: np.ndarray, sizes: tuple[int, ...]) -> Iterator[np.ndarray]:
    """`audio` as consecutive blocks of cycling, uneven sizes."""
    pos, i = 0, 0
    while pos < len(audio):
        size = sizes[i % len(sizes)]
        yield audio[pos : pos + size]
        pos, i = pos + size, i + 1


def test_join_segments_streams_audio_blocks(tmp_path: Path) -> None:
    segments = [_segment(tmp_path / "s0.mp4", 0, 20), _segment(tmp_path / "s1.mp4", 20, 25)]
    tone = _tone(45 / FPS)
    pulled: list[int] = []

    def blocks() -> Iterator[np.ndarray]:
        for block in _blocks(tone, (4800, 777, 12_345)):
            pulled.append(len(block))
            yield block

    out = tmp_path / "movie.mp4"
    join_segments(segments, blocks(), out, FPS, quality="low")
    assert sum(pulled) == len(tone)
    info = _streams(out)
    assert info["frames"] == 45
    assert (info["acodec"], info["rate"], info["channels"]) == ("aac", 48000, 2)
    sound = decode_reference(out)
    assert len(sound) == pytest.approx(len(tone), abs=1024)  # AAC frames are 1024 samples
    # The same tone, continuous across block boundaries (a gap or repeat would shift its phase).
    middle = slice(4800, len(tone) - 4800)
    assert np.abs(sound[middle] - tone[middle]).max() < 0.02
    # The same file as with the whole array.
    whole = tmp_path / "whole.mp4"
    join_segments(segments, tone, whole, FPS, quality="low")
    np.testing.assert_allclose(decode_reference(whole), sound, atol=1e-6)


def test_join_segments_failing_audio_leaves_nothing_and_closes_the_generator(
    tmp_path: Path,
) -> None:
    segments = [_segment(tmp_path / "s0.mp4", 0, 30), _segment(tmp_path / "s1.mp4", 30, 30)]
    closed: list[bool] = []

    def blocks() -> Iterator[np.ndarray]:
        try:
            yield from _blocks(_tone(1.0), (4800,))
            raise MediaError("music.mp3", "truncated", "The audio cannot be decoded")
        finally:
            closed.append(True)

    out = tmp_path / "movie.mp4"
    with pytest.raises(MediaError) as caught:
        join_segments(segments, blocks(), out, FPS, quality="low")
    assert caught.value.source == "music.mp3"
    assert closed == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s0.mp4", "s1.mp4"]


def test_write_audio_in_blocks_equals_one_write(tmp_path: Path) -> None:
    tone = _tone(1.5)
    paths = []
    for name, parts in (("whole.mp4", [tone]), ("blocks.mp4", list(_blocks(tone, (1000, 3333))))):
        path = tmp_path / name
        with Mp4Writer(path, W, H, FPS, quality="low") as writer:
            for i in range(10):
                writer.write_frame(_frame(i))
            for part in parts:
                writer.write_audio(part)
        paths.append(path)
    np.testing.assert_allclose(decode_reference(paths[1]), decode_reference(paths[0]), atol=1e-6)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_outputs_get_the_users_default_permissions(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        clip = tmp_path / "clip.mp4"
        with Mp4Writer(clip, W, H, FPS, quality="low", audio=False, gop=10) as writer:
            writer.write_frame(_frame(0))
        movie = tmp_path / "movie.mp4"
        join_segments([clip], _tone(0.1), movie, FPS, quality="low")
    for path in (clip, movie):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name
