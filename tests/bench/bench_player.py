"""Benchmark: the studio's preview player playing a 1080p video element at scale 1/2.

    .venv/bin/python tests/bench/bench_player.py [--seconds 10] [--no-proxy]

The real `PreviewPanel` (canvas, controls, frame worker, prefetch, clock) in a shown window with
Qt's real event loop (offscreen unless QT_QPA_PLATFORM says otherwise). The movie is 1920×1080
at 30 fps: a 12 s 1080p30 H.264 clip (GOP 15, footage-like, with sound) full-frame under a
caption. The clip's 540p all-intra preview proxy is built first (as the studio does in the
background when a video is added). Reports frames painted per second, frames dropped by the
clock, and the longest gap in the GUI thread's event loop (a 1 ms timer's worst lateness).
Target: ≥ 30 fps shown.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.media.proxy import ProxyStore
from app.studio.document import ScriptDocument, dumps
from app.studio.preview_panel import PreviewPanel
from tests.bench.media import captioned_clip_script, moving_clip

WORK = Path(tempfile.gettempdir()) / "reelsmith-bench"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-proxy", action="store_true", help="decode the 1080p source itself")
    parser.add_argument("--size", default="1000x720", help="panel size in pixels")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    assert app is not None
    WORK.mkdir(exist_ok=True)
    clip = moving_clip(WORK / "clip-1080p-gop15.mp4", 12.0)
    proxy_root = WORK / ("proxies-none" if args.no_proxy else "proxies")
    proxies = ProxyStore(proxy_root, max_height=0 if args.no_proxy else 540)
    if not args.no_proxy:
        started = time.perf_counter()
        proxies.build(clip)
        print(f"proxy of the 12 s 1080p clip ready in {time.perf_counter() - started:.1f} s")
    script = captioned_clip_script(clip)
    document = ScriptDocument(dumps(script), file_path=WORK / "bench-player.json")
    document.validate_now()
    assert document.movie is not None
    panel = PreviewPanel(document, proxies=proxies)
    width, height = (int(v) for v in args.size.split("x"))
    panel.resize(width, height)
    panel.show()
    panel.scale_combo.setCurrentIndex(panel.scale_combo.findData("1/2"))

    # Qt's own event loop (a QEventLoop: app.exec's quit would also tell the panel that the
    # application is quitting).
    loop = QEventLoop()

    def run_loop(seconds: float) -> None:
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    run_loop(1.0)  # first frame, decoders open, sound tracks listed
    painted: list[float] = []
    panel.canvas.painted_frame.connect(lambda: painted.append(time.perf_counter()))

    # The GUI thread's longest stall: how late a 1 ms timer fires at worst.
    gaps: list[float] = []
    watch = QElapsedTimer()
    watch.start()
    last = [watch.nsecsElapsed()]

    def beat() -> None:
        now = watch.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.setInterval(1)
    heart.timeout.connect(beat)

    panel.player.play()
    heart.start()
    started = time.perf_counter()
    panel.player.state_changed.connect(lambda: None if panel.player.playing else loop.quit())
    deadline = QTimer()
    deadline.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may fire 5 % early
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(round(args.seconds * 1000))
    loop.exec()
    elapsed = time.perf_counter() - started
    heart.stop()
    playing = panel.player.playing
    panel.player.pause()
    shown = [t for t in painted if t >= started]
    fps = (len(shown) - 1) / (shown[-1] - shown[0]) if len(shown) > 1 else 0.0
    intervals = [(b - a) * 1000 for a, b in itertools.pairwise(shown)]
    print(
        f"played {elapsed:.1f} s of a 1920x1080 30 fps movie at scale 1/2 "
        f"({'proxy' if not args.no_proxy else '1080p source'}), panel {width}x{height}, "
        f"canvas {panel.canvas.device_size().width()}x{panel.canvas.device_size().height()} px"
    )
    print(
        f"frames shown: {len(shown)} = {fps:.1f} fps; dropped by the clock: {panel.player.dropped}"
    )
    if intervals:
        print(
            f"frame interval: median {statistics.median(intervals):.1f} ms, "
            f"max {max(intervals):.1f} ms"
        )
    print(
        f"longest GUI event-loop gap: {max(gaps):.1f} ms "
        f"(p99 {sorted(gaps)[int(len(gaps) * 0.99)]:.1f} ms over {len(gaps)} beats)"
    )
    print(f"audio: {panel.player.audio_state}; still playing at the end: {playing}")
    panel.close_player()
    document.close()
    ok = fps >= 29.5  # every frame of the 30 fps movie, within timer jitter
    print(f"target (>= 30 fps shown): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
