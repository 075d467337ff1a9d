"""Preview proxies: same frames at the same times, small and all keyframes, built off-thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import av
import numpy as np

from app.media.decode import VideoReader
from app.media.proxy import ProxyStore, build_proxy
from app.render.media_provider import MediaFiles
from app.script.sources import Source
from tests.unit.media.conftest import index_of, write_test_video


def test_proxy_keeps_every_frame_time_and_is_all_keyframes(tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "clip.mp4", frames=30, audio_rate=None)
    proxy = build_proxy(clip, tmp_path / "proxy.mp4", max_height=120)
    with av.open(str(proxy)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.height == 120
        packets = [p for p in container.demux(stream) if p.size]
        assert len(packets) == 30 and all(p.is_keyframe for p in packets)
    with VideoReader(clip) as original, VideoReader(proxy) as small:
        for t in (0.0, 0.49, 0.5, 0.77, 0.99, 5.0):
            assert index_of(small.frame_at(t).pixels) == index_of(original.frame_at(t).pixels), t


def test_rotated_sources_give_upright_proxies(tmp_path: Path) -> None:
    clip = write_test_video(
        tmp_path / "rot.mp4", frames=5, audio_rate=None, rotation=90, marker=True
    )
    proxy = build_proxy(clip, tmp_path / "proxy.mp4", max_height=160)
    with VideoReader(clip) as original, VideoReader(proxy) as small:
        assert small.width / small.height == original.width / original.height
        big = original.frame_at(0).pixels
        tiny = small.frame_at(0).pixels
        # the marker corner is where the display shows it, in both
        corner_big = big[: big.shape[0] // 8, : big.shape[1] // 8, :3].mean()
        corner_small = tiny[: tiny.shape[0] // 8, : tiny.shape[1] // 8, :3].mean()
        assert abs(corner_big - corner_small) < 40


def test_store_builds_in_the_background_and_keys_on_the_source_version(tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "clip.mp4", frames=10, audio_rate=None)
    store = ProxyStore(tmp_path / "proxies", max_height=120)
    built = threading.Event()
    store.on_ready(lambda source: built.set())
    assert store.ready(clip) is None
    store.request(clip)
    assert built.wait(30)
    first = store.ready(clip)
    assert first is not None and first.parent == tmp_path / "proxies"
    assert not list((tmp_path / "proxies").glob("*.part"))
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the source changed
    assert store.ready(clip) is None


def test_media_files_read_the_proxy_only_when_it_is_sharp_enough(tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "clip.mp4", frames=10, audio_rate=None)  # 320x240
    store = ProxyStore(tmp_path / "proxies", max_height=120)
    source = Source("file", path=clip)
    with MediaFiles(video_scale=0.5, proxies=store) as half:
        first = half.video_frame(source, 0.2)  # from the source; asks for the proxy
        store.wait(30)
        assert store.ready(clip) is not None
        second = half.video_frame(source, 0.2)
        assert [str(p) for p in half._readers] == [str(store.ready(clip))]
        assert second.pixels.shape == first.pixels.shape == (120, 160, 4)
        assert np.abs(second.pixels.astype(int) - first.pixels.astype(int)).mean() < 6
    with MediaFiles(video_scale=1.0, proxies=store) as full:
        full.video_frame(source, 0.2)
        assert list(full._readers) == [clip]  # 240 px asked for, the proxy has 120
