"""Benchmark: live validation of a 1,000-scene × 5-element script with ~50 scattered errors.

    .venv/bin/python tests/bench/bench_validate.py

Measures (median of many runs) the full pipeline the studio runs on every change — parse,
schema validation, cross-field rules, lint, then mapping every problem to its text range — for
the document as loaded and after a one-field edit. Target: median ≤ 20 ms each.
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.script.validate import validate_text

TARGET_MS = 20.0


def generate(n_scenes: int = 1000, n_errors: int = 50, seed: int = 1) -> dict[str, Any]:
    rnd = random.Random(seed)
    scenes = []
    for i in range(n_scenes):
        elements = [
            {
                "type": "text",
                "text": f"Scene {i} title",
                "font_size": 64,
                "position": "top-center",
                "color": "#FFFFFF",
            },
            {
                "type": "image",
                "src": f"https://cdn.example.com/p{i}.png",
                "fit": "cover",
                "animation": "zoom-in",
            },
            {
                "type": "video",
                "src": f"https://cdn.example.com/c{i}.mp4",
                "trim_start": 1.5,
                "volume": 0.5,
                "width": 640,
                "height": 360,
                "position": "bottom-right",
            },
            {
                "type": "text",
                "text": "Lower third",
                "font_size": 36,
                "position": "bottom-center",
                "background_color": "#000000AA",
            },
            {"type": "audio", "src": f"https://cdn.example.com/a{i}.wav", "volume": 0.8},
        ]
        scene: dict[str, Any] = {
            "name": f"Scene {i}",
            "duration": 4,
            "background": "#101820",
            "elements": elements,
        }
        if i:
            scene["transition"] = {"type": "crossfade", "duration": 0.5}
        scenes.append(scene)
    movie = {"width": 1920, "height": 1080, "fps": 30, "quality": "medium", "scenes": scenes}
    for k in range(n_errors):
        s, e = rnd.randrange(n_scenes), rnd.randrange(5)
        element = scenes[s]["elements"][e]
        kind = k % 5
        if kind == 0:
            element["opacity"] = "half"
        elif kind == 1:
            element["font-size"] = 3
        elif kind == 2:
            scenes[s]["duration"] = -1
        elif kind == 3:
            element["position"] = "middle"
        else:
            element["type"] = "sticker"
    return movie


def run(text: str) -> int:
    report = validate_text(text)
    return len(report.located())


def measure(text: str, repeat: int = 60) -> tuple[float, float, int]:
    run(text)  # warm-up (schema compilation, imports)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        count = run(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), count


def main() -> int:
    movie = generate()
    text = json.dumps(movie, indent=2)
    print(f"python {platform.python_version()}, {len(text) / 1e6:.2f} MB of JSON")
    median, worst, count = measure(text)
    print(f"full validation + locate {count} problems: median {median:.1f} ms (max {worst:.1f})")
    movie["scenes"][500]["elements"][0]["font_size"] = 65
    edited = json.dumps(movie, indent=2)
    median2, worst2, count2 = measure(edited)
    print(f"after a one-field edit ({count2} problems): median {median2:.1f} ms (max {worst2:.1f})")
    ok = median <= TARGET_MS and median2 <= TARGET_MS
    print(f"target median ≤ {TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
