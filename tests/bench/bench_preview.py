"""Benchmark: preview frames with a 1080p video element, at scale 1/2.

    .venv/bin/python tests/bench/bench_preview.py

Random access (a scrub to any time): target median ≤ 25 ms. Sequential playback (every frame
in order, as the player asks for them): target ≥ 60 fps. Also checks that the frame cache keeps
its byte bound.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.media.proxy import ProxyStore
from app.render.preview import PreviewSource
from app.script.model import Movie
from tests.bench.media import captioned_clip_script, moving_clip

WORK = Path(tempfile.gettempdir()) / "reelsmith-bench"


def main() -> int:
    WORK.mkdir(exist_ok=True)
    clip = moving_clip(WORK / "clip-1080p-gop15.mp4", 12.0)
    movie = Movie.model_validate(captioned_clip_script(clip))
    scale = 0.5
    proxies = ProxyStore(WORK / "proxies")
    started = time.perf_counter()
    proxies.build(clip)
    print(f"proxy of the 12 s 1080p clip ready in {time.perf_counter() - started:.1f} s")
    source = PreviewSource(movie, WORK, cache_mb=64, proxies=proxies)
    try:
        source.frame_at_index(0, scale)  # warm-up: open the decoder, lay out the text
        source.set_movie(movie)
        source.frame_at_index(1, scale)  # now on the proxy
        rnd = random.Random(7)
        times = []
        for _ in range(60):
            index = rnd.randrange(source.frame_count)
            source.set_movie(movie)  # empty the frame cache: measure real work, not hits
            start = time.perf_counter()
            source.frame_at_index(index, scale)
            times.append((time.perf_counter() - start) * 1000)
        random_median = statistics.median(times)
        print(
            f"random access at 1/2: median {random_median:.1f} ms, "
            f"p90 {sorted(times)[int(len(times) * 0.9)]:.1f} ms"
        )
        source.set_movie(movie)
        count = source.frame_count
        start = time.perf_counter()
        checksums = []
        for index in range(count):
            image = source.frame_at_index(index, scale)
            if index % 30 == 0:
                checksums.append(hash(bytes(image.constBits())))
        fps = count / (time.perf_counter() - start)
        assert len(set(checksums)) == len(checksums), "frames repeat: the benchmark is broken"
        print(f"sequential playback at 1/2: {fps:.0f} fps over {count} frames")
        bound_ok = source.cache_bytes <= source.max_bytes
        print(
            f"frame cache: {source.cache_bytes / 2**20:.1f} MB held, bound "
            f"{source.max_bytes / 2**20:.0f} MB: {'kept' if bound_ok else 'EXCEEDED'}"
        )
    finally:
        source.close()
    ok = random_median <= 25 and fps >= 60 and bound_ok
    print(f"targets (median ≤ 25 ms, ≥ 60 fps, bound kept): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
