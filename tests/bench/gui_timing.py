"""Timing helpers shared by the studio benchmarks: a real event loop until a condition holds,
percentiles, and the longest GUI-thread stall."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def pump_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run the real event loop (it sleeps between events, releasing the GIL, as the studio's
    does) until `condition()` holds; the condition is checked every 2 ms."""
    if condition():
        return
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout
    poll = QTimer()
    poll.setInterval(2)

    def check() -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError("condition not met")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class GapMeter:
    """The longest interval between ticks of a 1 ms timer: how long the GUI thread stalled."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.gaps: list[float] = []

    def start(self) -> None:
        self.last = time.perf_counter()
        self.gaps = []
        self.timer.start()

    def stop(self) -> float:
        """Stop; the longest gap in ms."""
        self.timer.stop()
        return max(self.gaps, default=0.0)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last) * 1000)
        self.last = now
