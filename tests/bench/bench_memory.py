"""Benchmark: memory does not grow with movie length.

    .venv/bin/python tests/bench/bench_memory.py

Renders a 1-minute and a 10-minute movie (640×360 at 30 fps: a looping video element, a
zooming photo, text with a box, music and the clip's sound) in fresh processes and compares the
peak resident memory of the render process and of its largest worker. Target: the 10-minute
peaks ≤ 1.2× the 1-minute peaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.examples import _chords, _photo, write_wav  # noqa: E402
from tests.bench.media import moving_clip  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "reelsmith-bench"

CHILD = """
import json, resource, sys
from pathlib import Path
from app.render.engine import render_movie
from app.script.model import Movie
movie = Movie.model_validate(json.loads(sys.argv[1]))
render_movie(movie, Path(sys.argv[2]), jobs=2)
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"parent_kb": me, "worker_kb": kids}))
"""


def script(minutes: int, media: dict[str, str]) -> dict:
    scenes = []
    for i in range(minutes * 6):  # 10 s scenes
        scenes.append(
            {
                "duration": 10,
                "transition": {"type": "crossfade", "duration": 1} if i else None,
                "elements": [
                    {
                        "type": "video",
                        "src": media["clip"],
                        "loop": True,
                        "fit": "cover",
                        "volume": 0.3,
                    },
                    {
                        "type": "image",
                        "src": media["photo"],
                        "width": 320,
                        "height": 180,
                        "position": "top-right",
                        "animation": "zoom-in",
                    },
                    {
                        "type": "text",
                        "text": f"Scene {i + 1}",
                        "font_size": 36,
                        "position": "bottom-left",
                        "background_color": "#000000AA",
                    },
                    {"type": "audio", "src": media["music"], "loop": True, "volume": 0.5},
                ],
            }
        )
        if scenes[-1]["transition"] is None:
            del scenes[-1]["transition"]
    return {"width": 640, "height": 360, "fps": 30, "quality": "low", "scenes": scenes}


def measure(minutes: int, media: dict[str, str]) -> dict[str, int]:
    out = WORK / f"memory-{minutes}min.mp4"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(script(minutes, media)), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    WORK.mkdir(exist_ok=True)
    music = WORK / "music-30s.wav"
    if not music.exists():
        write_wav(music, _chords(30))
    photo = WORK / "photo-1.jpg"
    if not photo.exists():
        _photo(photo, ("#F6B38E", "#FCE3C5"), (0.7, 0.55), "#3E5A4A")
    clip = moving_clip(WORK / "clip-360p.mp4", 8.0, width=640, height=360)
    media = {"clip": str(clip), "photo": str(photo), "music": str(music)}
    one = measure(1, media)
    ten = measure(10, media)
    ok = True
    for key, label in (("parent_kb", "render process"), ("worker_kb", "largest worker")):
        ratio = ten[key] / one[key]
        ok &= ratio <= 1.2
        print(
            f"{label}: 1 min {one[key] / 1024:.0f} MB, 10 min {ten[key] / 1024:.0f} MB "
            f"peak RSS; ratio {ratio:.2f}"
        )
    print(f"target (10 min ≤ 1.2× 1 min): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
