"""Benchmark: the Script dock (JSON editor) with a 1,000-scene × 5-element script.

    .venv/bin/python tests/bench/bench_json_editor.py

A real `ScriptDocument` and `ScriptEditorPanel` (offscreen unless a display is set), ~50
scattered errors, a real event loop. Measures:

- opening: the panel showing the 1 MB text (setPlainText, lazy colouring of the visible lines);
- keystroke → underlines: a key typed into the editor (QTest) until the validation of that text
  has landed and the editor has applied its underlines (median, p95);
- typing at 10 keys/s for a few seconds: the same latency per key, and the longest gap of the
  GUI event loop (a 1 ms timer records its intervals);
- an inspector-style data edit: the editor's share (replacing only the differing middle of the
  text) vs. replacing the whole text.

Targets (issue 6): keystroke → underlines median ≤ 50 ms, no event-loop gap over 100 ms.

The garbage collector is set up as the studio sets it up once its window is shown
(`app.studio.main.tune_garbage_collector`: freeze, higher thresholds);

    .venv/bin/python tests/bench/bench_json_editor.py --python-gc

keeps Python's defaults instead, under which the allocation bursts of re-parsing the 1 MB text
trigger full collections of 50–140 ms in the middle of typing.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import generate
from gui_timing import GapMeter, percentile, pump_until
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.studio.document import ScriptDocument, Validation, dumps
from app.studio.json_editor import ScriptEditorPanel

TARGET_MEDIAN_MS = 50.0
TARGET_GAP_MS = 100.0


class GcMeter:
    """Pauses of Python's cyclic garbage collector (any thread: it holds the GIL)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start: dict[int, float] = {}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        import threading

        ident = threading.get_ident()
        if phase == "start":
            self._start[ident] = time.perf_counter()
        elif ident in self._start:
            elapsed = (time.perf_counter() - self._start.pop(ident)) * 1000
            self.pauses.append((info["generation"], elapsed))

    def summary(self) -> str:
        full = [ms for generation, ms in self.pauses if generation == 2]
        if not full:
            return "no full collections"
        median = statistics.median(full)
        return f"{len(full)} full collections, median {median:.0f} ms, max {max(full):.0f} ms"


class Stopwatch:
    """Total time spent inside one callable (wrapped in place)."""

    def __init__(self, owner: object, name: str) -> None:
        self.times: list[float] = []
        inner = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.times.append((time.perf_counter() - start) * 1000)

        setattr(owner, name, timed)

    def median(self) -> float:
        return statistics.median(self.times) if self.times else 0.0


def main() -> int:
    gc_tuned = "--python-gc" not in sys.argv
    app = QApplication.instance() or QApplication(sys.argv[:1])
    text = dumps(generate())
    print(
        f"python {platform.python_version()}, Qt platform {app.platformName()}, "
        f"{len(text) / 1e6:.2f} MB of JSON, {text.count(chr(10))} lines"
    )
    document = ScriptDocument(text)
    start = time.perf_counter()
    panel = ScriptEditorPanel(document)
    panel.resize(1000, 800)
    panel.show()
    app.processEvents()
    opened = (time.perf_counter() - start) * 1000
    pump_until(lambda: panel._validation is not None)
    if gc_tuned:
        from app.studio.main import tune_garbage_collector

        tune_garbage_collector()
        print(f"garbage collector: the studio's (frozen after start-up, {gc.get_threshold()})")
    else:
        print(f"garbage collector: Python's defaults {gc.get_threshold()}")
    print(f"open: panel shown with the whole text in {opened:.0f} ms")
    print(f"underlined problems: {len(panel.editor.marks)}")

    landed: dict[int, float] = {}

    def on_validated(validation: Validation) -> None:  # runs after the editor's own slot
        if panel._validation is validation:
            landed[validation.revision] = time.perf_counter()

    editor = panel.editor
    editor.setFocus()
    cursor = editor.textCursor()
    cursor.setPosition(text.index('"Scene 500 title"') + len('"Scene 500'))
    editor.setTextCursor(cursor)

    # 1. Isolated keystrokes: type one key, wait for its underlines.
    set_text = Stopwatch(document, "set_text")
    typed_slot = Stopwatch(panel, "_typed")
    underline = Stopwatch(panel, "_validated")
    # (re-connect so the wrapped slots are the ones called)
    panel.editor.textChanged.disconnect()
    panel.editor.textChanged.connect(panel._typed)
    document.validated.disconnect()
    document.validated.connect(panel._validated)
    document.validated.connect(on_validated)
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    validate = document._tasks.run

    def run(fn, *args, done=None):  # type: ignore[no-untyped-def]
        revision = args[0]
        started[revision] = time.perf_counter()

        def timed_done(result, error):  # type: ignore[no-untyped-def]
            finished[revision] = time.perf_counter()
            done(result, error)

        return validate(fn, *args, done=timed_done)

    document._tasks.run = run  # type: ignore[method-assign]
    gc_meter = GcMeter()
    latencies = []
    key_work = []
    for i in range(40):
        char = "abcdefghij"[i % 10]
        before = time.perf_counter()
        QTest.keyClicks(editor, char)
        key_work.append((time.perf_counter() - before) * 1000)
        revision = document.revision
        pump_until(lambda revision=revision: revision in landed)
        latencies.append((landed[revision] - before) * 1000)
        assert len(editor.marks) >= 50, "underlines went missing"
    median, p95 = statistics.median(latencies), percentile(latencies, 95)
    print(
        f"keystroke → underlines (one key at a time, n={len(latencies)}): "
        f"median {median:.1f} ms, p95 {p95:.1f} ms, max {max(latencies):.1f} ms"
    )
    validations = [(finished[r] - started[r]) * 1000 for r in started if r in finished]
    # per key, from totals (Qt also reports colour-only changes, which return at once)
    editor_share = (sum(typed_slot.times) - sum(set_text.times)) / len(latencies)
    print(
        f"  the key press on the GUI thread: median {statistics.median(key_work):.1f} ms, of "
        f"which document.set_text (re-parse, changed paths) {set_text.median():.1f} ms and the "
        f"editor's own work {editor_share:.2f} ms"
    )
    print(
        f"  validation on the worker (schema, rules, lint, locate): median "
        f"{statistics.median(validations):.1f} ms; applying the underlines "
        f"{underline.median():.1f} ms"
    )
    print(f"  garbage collector: {gc_meter.summary()}")
    gc_meter.pauses.clear()

    # 2. Typing at 10 keys/s with the gap meter running.
    meter = GapMeter()
    typed: dict[int, float] = {}
    keys = list("typing in the editor ") * 2
    typing_timer = QTimer()
    typing_timer.setInterval(100)

    def type_one() -> None:
        if not keys:
            typing_timer.stop()
            return
        at = time.perf_counter()
        QTest.keyClicks(editor, keys.pop(0))
        typed[document.revision] = at

    typing_timer.timeout.connect(type_one)
    meter.start()
    typing_timer.start()
    pump_until(lambda: not keys and document.revision in landed, timeout=30)
    meter.stop()
    per_key = [(landed[r] - t) * 1000 for r, t in typed.items() if r in landed]
    worst_gap = max(meter.gaps)
    print(
        f"typing at 10 keys/s ({len(typed)} keys, {len(per_key)} validations landed): "
        f"key → underlines median {statistics.median(per_key):.1f} ms, "
        f"p95 {percentile(per_key, 95):.1f} ms"
    )
    print(
        f"  longest event-loop gap {worst_gap:.1f} ms "
        f"(p99 of 1 ms ticks {percentile(meter.gaps, 99):.1f} ms); "
        f"garbage collector: {gc_meter.summary()}"
    )

    # 3. An inspector edit: the editor replaces only the middle that changed.
    shown = []
    original = panel._show_text

    def timed_show(new_text: str, keep_cursor: bool) -> None:
        t = time.perf_counter()
        original(new_text, keep_cursor)
        shown.append((time.perf_counter() - t) * 1000)

    panel._show_text = timed_show  # type: ignore[method-assign]
    edits = []
    for k in range(20):
        t = time.perf_counter()
        document.set_value(("scenes", 200 + k, "elements", 0, "font_size"), 70 + k, merge=False)
        edits.append((time.perf_counter() - t) * 1000)
        app.processEvents()
    assert editor.toPlainText() == document.text
    print(
        f"inspector edit: editor update median {statistics.median(shown):.1f} ms "
        f"(max {max(shown):.1f}); whole set_value incl. document re-serialise median "
        f"{statistics.median(edits):.1f} ms"
    )
    t = time.perf_counter()
    editor.setPlainText(document.text)
    app.processEvents()
    print(f"  for comparison, replacing the whole text: {(time.perf_counter() - t) * 1000:.0f} ms")

    ok = median <= TARGET_MEDIAN_MS and worst_gap <= TARGET_GAP_MS
    print(
        f"targets: median ≤ {TARGET_MEDIAN_MS:.0f} ms, gap ≤ {TARGET_GAP_MS:.0f} ms: "
        f"{'met' if ok else 'NOT met'}"
    )
    panel.close()
    document.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
