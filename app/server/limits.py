"""Plans, the per-account sliding rate-limit window (PhantomFlow spec §4), and the fixed
windows per key of the Sketchpen side (Sketchpen spec §9).

The window lives in memory, keyed by account id, so the live and test keys of an account share
it, and any route set of this service (PhantomFlow today, Sketchpen later) can count against the
same window by calling `RateLimiter.hit`. It is not persisted: a restart forgives the last
minute, which is harmless for a local service.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from app.server.store import Account

#: plan → (requests per window, concurrent jobs); enterprise numbers are per account.
PLAN_LIMITS: dict[str, tuple[int, int]] = {
    "free": (10, 2),
    "starter": (60, 5),
    "pro": (120, 10),
}


def limits_of(account: Account) -> tuple[int, int]:
    """(rate limit, concurrency limit) of an account: its explicit numbers win over its plan."""
    rate, concurrency = PLAN_LIMITS.get(account.plan, PLAN_LIMITS["free"])
    return (
        account.rate_limit if account.rate_limit is not None else rate,
        account.concurrency_limit if account.concurrency_limit is not None else concurrency,
    )


@dataclass(frozen=True)
class RateState:
    """What the X-RateLimit-* headers say after a request; `retry_after` only when refused."""

    limit: int
    remaining: int
    reset: int
    allowed: bool
    retry_after: int | None = None

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    """Sliding window: counts accepted requests of the last `window` seconds per account.

    Refused requests (429) are not counted, so a client that waits `Retry-After` always gets in.
    """

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, hits: deque[float], now: float) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def _reset(self, hits: deque[float], now: float) -> int:
        oldest = hits[0] if hits else now
        return math.ceil(oldest + self.window)

    def hit(self, account_id: str, limit: int) -> RateState:
        """Count one request if the window has room; the state for the response headers."""
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault(account_id, deque())
            self._trim(hits, now)
            if len(hits) >= limit:
                reset = self._reset(hits, now)
                wait = max(1, math.ceil(hits[0] + self.window - now))
                return RateState(limit, 0, reset, allowed=False, retry_after=wait)
            hits.append(now)
            return RateState(limit, max(0, limit - len(hits)), self._reset(hits, now), True)

    def peek(self, account_id: str, limit: int) -> RateState:
        """The current state without counting (for the account endpoint's body)."""
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault(account_id, deque())
            self._trim(hits, now)
            return RateState(limit, max(0, limit - len(hits)), self._reset(hits, now), True)


class FixedWindowLimiter:
    """Fixed windows: at most `limit` requests per bucket in each `window`-second slot.

    The Sketchpen contract counts per key in fixed windows (a vendor's "N per 1 day" resets at
    the window's end, not a rolling day); `Retry-After` is the time left to the window's end.
    Same `hit` interface as `RateLimiter`; refused requests do not count.
    """

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._counts: dict[str, tuple[int, int]] = {}  # bucket → (window index, count)
        self._lock = threading.Lock()

    def hit(self, bucket: str, limit: int) -> RateState:
        now = time.time()
        index = int(now // self.window)
        reset = math.ceil((index + 1) * self.window)
        with self._lock:
            current, count = self._counts.get(bucket, (index, 0))
            if current != index:
                count = 0
            if count >= limit:
                wait = max(1, math.ceil((index + 1) * self.window - now))
                return RateState(limit, 0, reset, allowed=False, retry_after=wait)
            count += 1
            self._counts[bucket] = (index, count)
            return RateState(limit, limit - count, reset, True)
