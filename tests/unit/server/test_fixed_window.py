"""The Sketchpen side's fixed rate windows: N per window per bucket, reset at the window's end."""

from __future__ import annotations

from app.server import limits
from app.server.limits import FixedWindowLimiter


def _at(monkeypatch, now: float) -> None:
    monkeypatch.setattr(limits.time, "time", lambda: now)


def test_allows_the_limit_then_refuses_until_the_window_ends(monkeypatch):
    limiter = FixedWindowLimiter(window=60)
    _at(monkeypatch, 6000.0 + 10)  # 10 s into a window that ends at 6060
    states = [limiter.hit("key", 3) for _ in range(3)]
    assert [s.remaining for s in states] == [2, 1, 0] and all(s.allowed for s in states)
    refused = limiter.hit("key", 3)
    assert not refused.allowed and refused.retry_after == 50 and refused.reset == 6060
    _at(monkeypatch, 6059.5)
    assert not limiter.hit("key", 3).allowed  # refusals are not counted, still the same window
    _at(monkeypatch, 6060.0)
    assert limiter.hit("key", 3).allowed  # a fresh window, not a rolling one


def test_buckets_are_independent(monkeypatch):
    limiter = FixedWindowLimiter(window=60)
    _at(monkeypatch, 120.0)
    assert limiter.hit("a", 1).allowed
    assert not limiter.hit("a", 1).allowed
    assert limiter.hit("b", 1).allowed


def test_retry_after_is_at_least_one_second(monkeypatch):
    limiter = FixedWindowLimiter(window=1)
    _at(monkeypatch, 10.99)
    limiter.hit("k", 1)
    assert limiter.hit("k", 1).retry_after == 1
