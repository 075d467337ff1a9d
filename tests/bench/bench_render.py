"""Benchmark: render speed of a 30 s 1080p30 movie, against the encoder's physical limit and
against MoviePy 2.x, in the same run.

    apt-get install -y ffmpeg                                   # the baseline, benchmark only
    python3.12 -m venv /tmp/moviepy-venv && /tmp/moviepy-venv/bin/pip install "moviepy>=2,<3"
    .venv/bin/python tests/bench/bench_render.py [--skip-moviepy]

The movie: five 6 s scenes with a title, Ken Burns photos, a 1080p video element with a lower
third, crossfade/fade/wipe transitions, music and the clip's own sound. Settings everywhere:
H.264 yuv420p, x264 preset `fast`, CRF 23 (Reelsmith's `medium` quality), AAC.

(a) `ffmpeg -f lavfi -i testsrc2` encoding the same 900 frames at the same size, preset and CRF:
    target Reelsmith wall time ≤ 1.5× this.
(b) MoviePy 2.x composing an equivalent movie with the same encoder settings:
    target Reelsmith ≥ 4× faster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.examples import _chords, _photo, write_wav
from app.render.engine import default_jobs, render_movie
from app.render.fonts import fonts_dir
from app.script.model import Movie
from tests.bench.media import moving_clip

WORK = Path(tempfile.gettempdir()) / "reelsmith-bench"
MOVIEPY_PYTHON = Path("/tmp/moviepy-venv/bin/python")
SECONDS, FPS, WIDTH, HEIGHT = 30, 30, 1920, 1080


def make_media() -> dict[str, str]:
    WORK.mkdir(exist_ok=True)
    media = {
        "clip": moving_clip(WORK / "clip-1080p-gop15.mp4", 12.0),
        "music": WORK / "music-30s.wav",
        "p1": WORK / "photo-1.jpg",
        "p2": WORK / "photo-2.jpg",
    }
    if not media["music"].exists():
        write_wav(media["music"], _chords(SECONDS))
    if not media["p1"].exists():
        _photo(media["p1"], ("#F6B38E", "#FCE3C5"), (0.7, 0.55), "#3E5A4A")
    if not media["p2"].exists():
        _photo(media["p2"], ("#4A90D9", "#BFE3F7"), (0.5, 0.2), "#4F7A3A")
    return {k: str(v) for k, v in media.items()}


def script(m: dict[str, str]) -> dict:
    def music(i: int) -> dict:
        return {"type": "audio", "src": m["music"], "trim_start": 6 * i, "volume": 0.5}

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "quality": "medium",
        "scenes": [
            {
                "duration": 6,
                "background": "#101820",
                "elements": [
                    {"type": "image", "src": m["p1"], "fit": "cover", "animation": "zoom-in"},
                    {
                        "type": "text",
                        "text": "Reelsmith benchmark",
                        "font_size": 96,
                        "font_weight": "bold",
                        "animation": "fade-in",
                    },
                    music(0),
                ],
            },
            {
                "duration": 6,
                "transition": {"type": "crossfade", "duration": 1},
                "elements": [
                    {"type": "video", "src": m["clip"], "fit": "cover", "volume": 0.5},
                    {
                        "type": "text",
                        "text": "A lower third caption",
                        "font_size": 48,
                        "position": "bottom-left",
                        "background_color": "#000000AA",
                        "animation": "slide-in-left",
                    },
                    music(1),
                ],
            },
            {
                "duration": 6,
                "transition": {"type": "fade", "duration": 1},
                "elements": [
                    {"type": "image", "src": m["p2"], "fit": "cover", "animation": "pan-left"},
                    {
                        "type": "text",
                        "text": "Photos, video, text, sound",
                        "font_size": 64,
                        "position": "top-center",
                    },
                    music(2),
                ],
            },
            {
                "duration": 6,
                "transition": {"type": "wipe-left", "duration": 1},
                "elements": [
                    {
                        "type": "video",
                        "src": m["clip"],
                        "fit": "contain",
                        "trim_start": 4,
                        "width": 1280,
                        "height": 720,
                        "volume": 0.5,
                    },
                    {
                        "type": "text",
                        "text": "Picture in picture",
                        "font_size": 48,
                        "position": "bottom-center",
                    },
                    music(3),
                ],
            },
            {
                "duration": 6,
                "background": "#F2AA4C",
                "transition": {"type": "crossfade", "duration": 1},
                "elements": [
                    {
                        "type": "text",
                        "text": "The end",
                        "font_size": 120,
                        "color": "#101820",
                        "animation": "zoom-in",
                    },
                    music(4),
                ],
            },
        ],
    }


def time_reelsmith(m: dict[str, str]) -> float:
    movie = Movie.model_validate(script(m))
    out = WORK / "reelsmith.mp4"
    start = time.perf_counter()
    result = render_movie(movie, out, jobs=default_jobs())
    elapsed = time.perf_counter() - start
    assert result.frames == SECONDS * FPS
    return elapsed


def time_ffmpeg() -> float | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    cmd = [
        exe,
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}",
        "-frames:v",
        str(SECONDS * FPS),
        "-c:v",
        "libx264",
        "-preset",
        "fast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        str(WORK / "ffmpeg.mp4"),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def time_moviepy(m: dict[str, str]) -> float | None:
    if not MOVIEPY_PYTHON.exists():
        return None
    font = str(fonts_dir() / "Inter-Regular.otf")
    start = time.perf_counter()
    subprocess.run(
        [
            str(MOVIEPY_PYTHON),
            str(Path(__file__).with_name("moviepy_equivalent.py")),
            json.dumps(m),
            font,
            str(WORK / "moviepy.mp4"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def main() -> int:
    media = make_media()
    print(
        f"{os.cpu_count()} cores; {SECONDS} s at {WIDTH}x{HEIGHT}, {FPS} fps = "
        f"{SECONDS * FPS} frames; x264 fast / CRF 23"
    )
    ours = time_reelsmith(media)
    print(f"Reelsmith ({default_jobs()} workers): {ours:.1f} s ({SECONDS * FPS / ours:.1f} fps)")
    ok = True
    baseline = time_ffmpeg()
    if baseline is None:
        print("ffmpeg not installed: (a) skipped")
    else:
        ratio = ours / baseline
        print(
            f"(a) ffmpeg testsrc2 encode: {baseline:.1f} s; Reelsmith / ffmpeg = {ratio:.2f}× "
            f"(target ≤ 1.5×: {'met' if ratio <= 1.5 else 'NOT met'})"
        )
        ok &= ratio <= 1.5
    if "--skip-moviepy" not in sys.argv:
        theirs = time_moviepy(media)
        if theirs is None:
            print(f"MoviePy venv not found at {MOVIEPY_PYTHON}: (b) skipped")
        else:
            speedup = theirs / ours
            print(
                f"(b) MoviePy 2.x: {theirs:.1f} s; Reelsmith is {speedup:.1f}× faster "
                f"(target ≥ 4×: {'met' if speedup >= 4 else 'NOT met'})"
            )
            ok &= speedup >= 4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
