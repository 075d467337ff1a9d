"""Noticing a blocked event loop.

The service answers every request on one asyncio loop, so anything that holds that loop — a
handler that blocks, a long garbage-collection pass, the process starved of CPU — delays every
request at once, and no single request's timing shows why. `watch_stalls` ticks every few
milliseconds and, when a tick comes later than it should by more than a threshold, logs a
warning naming how long the loop could not run, and counts it in `StallStats`. The service's
lifespan runs it (`ServiceConfig.stall_warning_seconds`, `serve --stall-warning-ms`); it costs
one timer callback per tick. The service benchmark reads these warnings to tell the server's
stalls from its own, and runs the same watch on its own loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: The watch ticks every quarter of its threshold, within these bounds: a stall is measured to
#: about a tick (shorter by up to one), and an idle process wakes at most 4 times a second for a
#: threshold of 1 s (the studio's embedded service) instead of 200.
MIN_TICK_SECONDS = 0.005
MAX_TICK_SECONDS = 0.25


@dataclass
class StallStats:
    """The stalls seen so far: how many, the longest, their sum (seconds), and the most recent
    ones as (wall-clock start, seconds)."""

    count: int = 0
    worst: float = 0.0
    total: float = 0.0
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=1000))

    def add(self, began: float, seconds: float) -> None:
        self.count += 1
        self.worst = max(self.worst, seconds)
        self.total += seconds
        self.recent.append((began, seconds))


def check_threshold(threshold: float) -> float:
    """`threshold` if it is a positive, finite number of seconds; ValueError otherwise."""
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(
            f"the stall threshold must be a positive number of seconds, not {threshold}"
        )
    return threshold


def tick_for(threshold: float) -> float:
    """How often the watch ticks for `threshold`: a quarter of it, within the bounds above."""
    return min(max(check_threshold(threshold) / 4, MIN_TICK_SECONDS), MAX_TICK_SECONDS)


async def watch_stalls(threshold: float, stats: StallStats, *, tick: float | None = None) -> None:
    """Run until cancelled: a tick that comes more than `threshold` seconds late is a stall.

    A stall is measured from the tick's due time, so it is reported up to one tick short (a
    block of up to `threshold` + one tick can pass unreported). The warning says when the stall
    began (wall clock, to the millisecond) and how long it lasted, so it can be lined up with
    client-side timings."""
    check_threshold(threshold)
    tick = tick_for(threshold) if tick is None else tick
    loop = asyncio.get_running_loop()
    while True:
        began = loop.time()
        await asyncio.sleep(tick)
        late = loop.time() - began - tick
        if late > threshold:
            started = time.time() - late
            stats.add(started, late)
            log.warning(
                "the event loop was blocked for %.0f ms from %s.%03d: every request waited",
                late * 1000,
                time.strftime("%H:%M:%S", time.localtime(started)),
                int(started * 1000) % 1000,
                extra={"stall_began": started, "stall_seconds": late},
            )
