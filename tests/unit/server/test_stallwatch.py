"""The event-loop stall watch: a loop held by blocking code is reported with how long it was held;
a loop that keeps running is not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from app.server.stallwatch import StallStats, watch_stalls


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
    async def block() -> None:
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
    # It began the length of the stall before it was reported.
    began = longest.created - longest.__dict__["stall_seconds"]
    assert longest.__dict__["stall_began"] == pytest.approx(began, abs=0.02)


def test_a_running_loop_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    async def keep_answering() -> None:
        for _ in range(20):
            await asyncio.sleep(0.005)

    with caplog.at_level(logging.WARNING, logger="app.server.stallwatch"):
        stats = asyncio.run(_watch_while(0.5, keep_answering))
    assert stats.count == 0 and stats.worst == 0.0
    assert "blocked" not in caplog.text


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        asyncio.run(watch_stalls(0, StallStats()))
