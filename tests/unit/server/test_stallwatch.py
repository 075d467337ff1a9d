"""The event-loop stall watch: a loop held by blocking code is reported with how long it was held;
a loop that keeps running is not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from app.server.config import ServiceConfig
from app.server.stallwatch import StallStats, tick_for, watch_stalls


async def _watch_while(threshold: float, body: object) -> StallStats:
    stats = StallStats()
    task = asyncio.get_running_loop().create_task(watch_stalls(threshold, stats, tick=0.005))
    await asyncio.sleep(0.03)  # the watch has ticked
    assert callable(body)
    await body()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return stats


def test_a_blocked_loop_is_reported_with_its_length(caplog: pytest.LogCaptureFixture) -> None:
    blocked_at: list[float] = []

    async def block() -> None:
        blocked_at.append(time.time())
        time.sleep(0.2)  # blocking code on the loop's thread: nothing else runs meanwhile
        await asyncio.sleep(0.03)

    with caplog.at_level(logging.WARNING, logger="app.server.stallwatch"):
        stats = asyncio.run(_watch_while(0.05, block))
    assert stats.count >= 1
    assert 0.18 <= stats.worst < 2.0
    assert max(seconds for _, seconds in stats.recent) == stats.worst
    warnings = [r for r in caplog.records if "event loop was blocked" in r.getMessage()]
    assert warnings, caplog.text
    longest = max(warnings, key=lambda r: r.__dict__["stall_seconds"])
    assert longest.__dict__["stall_seconds"] == pytest.approx(stats.worst)
    assert f"blocked for {stats.worst * 1000:.0f} ms" in longest.getMessage()
    # It began when the blocking did, give or take one tick (the watch sees the loop only then).
    assert longest.__dict__["stall_began"] == pytest.approx(blocked_at[0], abs=0.02)


def test_a_running_loop_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    async def keep_answering() -> None:
        for _ in range(20):
            await asyncio.sleep(0.005)

    with caplog.at_level(logging.WARNING, logger="app.server.stallwatch"):
        stats = asyncio.run(_watch_while(0.5, keep_answering))
    assert stats.count == 0 and stats.worst == 0.0
    assert "blocked" not in caplog.text


@pytest.mark.parametrize("threshold", [0, -0.1, float("nan"), float("inf")])
def test_the_threshold_must_be_a_positive_number(threshold: float, tmp_path: object) -> None:
    with pytest.raises(ValueError, match="positive number"):
        asyncio.run(watch_stalls(threshold, StallStats()))
    with pytest.raises(ValueError, match="positive number"):
        asyncio.run(watch_stalls(threshold, StallStats(), tick=0.005))
    with pytest.raises(ValueError, match="positive number"):
        ServiceConfig(data_dir=tmp_path, stall_warning_seconds=threshold)  # type: ignore[arg-type]


def test_the_watch_ticks_a_quarter_of_its_threshold_within_bounds() -> None:
    assert tick_for(0.1) == pytest.approx(0.025)  # serve's default: 40 wake-ups a second
    assert tick_for(1.0) == 0.25  # the studio's embedded service: 4 a second
    assert tick_for(10.0) == 0.25
    assert tick_for(0.01) == 0.005
