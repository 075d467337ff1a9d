"""`reelsmith render` and `reelsmith frame` as a user runs them: exit codes, messages, no debris."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from app.media.probe import probe

ROOT = Path(__file__).resolve().parents[3]


def reelsmith(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def children_of(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    return {int(child) for child, parent in rows if int(parent) == pid}


def alive(pids: set[int]) -> set[int]:
    """The processes among `pids` still running (a zombie, exited but not yet reaped by its
    new parent, does not count)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


SIMPLE = {
    "width": 160,
    "height": 90,
    "fps": 10,
    "quality": "low",
    "scenes": [
        {
            "duration": 1.5,
            "background": "#204060",
            "elements": [{"type": "text", "text": "{{title}}", "font_size": 20}],
        }
    ],
}


def test_render_writes_the_movie_and_exits_0(tmp_path: Path, write_script) -> None:
    script = write_script(SIMPLE)
    (tmp_path / "vars.json").write_text('{"title": "Hello"}')
    out = tmp_path / "out" / "movie.mp4"
    result = reelsmith(
        "render", str(script), "-o", str(out), "--vars", str(tmp_path / "vars.json"), "--jobs", "1"
    )
    assert result.returncode == 0, result.stderr
    assert probe(out).duration == pytest.approx(1.5, abs=0.1)
    assert "15 frames" in result.stdout


def test_render_refuses_an_invalid_script_with_exit_1(tmp_path: Path, write_script) -> None:
    script = write_script({**SIMPLE, "fps": "fast"})
    out = tmp_path / "movie.mp4"
    result = reelsmith("render", str(script), "-o", str(out))
    assert result.returncode == 1
    assert "fps: Expected number, received string" in result.stderr
    assert "Missing template variable 'title'" in result.stderr
    assert not out.exists()


def test_unreadable_media_exits_3_naming_the_element_and_file(tmp_path: Path, write_script) -> None:
    (tmp_path / "broken.mp4").write_text("not a video")
    script = write_script(
        {
            **SIMPLE,
            "scenes": [
                {
                    "duration": 1,
                    "elements": [
                        {"type": "text", "text": "ok"},
                        {"type": "video", "src": "broken.mp4"},
                    ],
                }
            ],
        }
    )
    out = tmp_path / "movie.mp4"
    result = reelsmith("render", str(script), "-o", str(out))
    assert result.returncode == 3, result.stderr
    assert "scenes.0.elements.1" in result.stderr and "broken.mp4" in result.stderr
    assert not out.exists()


def test_a_folder_as_output_is_a_usage_error(tmp_path: Path, write_script) -> None:
    script = write_script({**SIMPLE, "scenes": [{"duration": 1}]})
    result = reelsmith("render", str(script), "-o", str(tmp_path))
    assert result.returncode == 2
    assert "is a folder" in result.stderr


def test_ctrl_c_cancels_cleanly(tmp_path: Path, write_script) -> None:
    long = {
        "width": 1280,
        "height": 720,
        "fps": 30,
        "quality": "low",
        "scenes": [
            {
                "duration": 600,
                "elements": [{"type": "text", "text": "long", "animation": "zoom-in"}],
            }
        ],
    }
    script = write_script(long)
    out = tmp_path / "movie.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "render", str(script), "-o", str(out), "--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = children_of(process.pid)
        time.sleep(0.2)
    time.sleep(2.0)  # rendering is under way
    workers = children_of(process.pid)
    assert workers
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "cancelled" in stderr and "Traceback" not in stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".reelsmith-render-*"))
    time.sleep(0.5)
    assert not alive(workers)  # no worker outlives the command


def test_frame_writes_a_png_of_the_scaled_canvas(tmp_path: Path, write_script) -> None:
    script = write_script({**SIMPLE, "scenes": [{"duration": 2, "background": "#FF0000"}]})
    out = tmp_path / "frame.png"
    result = reelsmith("frame", str(script), "--at", "1", "-o", str(out), "--scale", "0.5")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (80, 44)  # 45 rounded to even
        assert image.convert("RGB").getpixel((40, 20)) == (255, 0, 0)
