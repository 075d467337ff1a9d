"""What the account bar shows: credits, rate limit, concurrency slots, key mode, plan.

The state is assembled from whatever the server tells us: `X-RateLimit-*` headers on every
response, `credits_remaining` on render answers, and `GET /api/account` where offered. Hosted
servers may lack the account endpoint; the headers alone still keep the bar honest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import httpx

from app.service.keys import KeyMode

log = logging.getLogger(__name__)

LOW_REMAINING_FRACTION = 0.2


@dataclass(frozen=True)
class RateLimit:
    """Header semantics (§4): `reset` is a Unix time in whole seconds."""

    limit: int
    remaining: int
    reset: int | None

    @property
    def is_low(self) -> bool:
        """Below 20 % of the window left: pollers slow down."""
        return self.limit > 0 and self.remaining < LOW_REMAINING_FRACTION * self.limit


@dataclass(frozen=True)
class AccountSnapshot:
    """One immutable view of the account, handed to observers."""

    key_mode: KeyMode = KeyMode.UNKNOWN
    plan: str | None = None
    credits_balance: int | None = None
    rate_limit: RateLimit | None = None
    concurrency_limit: int | None = None
    concurrency_active: int | None = None
    updated_at: float | None = None
    # Whether the figures came from GET /api/account at least once (else headers only).
    from_account_endpoint: bool = False


Observer = Callable[[AccountSnapshot], None]


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


class AccountState:
    """The live account state; observers are called (synchronously) after every change.

    Thread-safe so the studio may read it from any thread; observers run on the thread that
    made the change (the client's event loop).
    """

    def __init__(
        self, key_mode: KeyMode = KeyMode.UNKNOWN, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._snapshot = AccountSnapshot(key_mode=key_mode)
        self._observers: list[Observer] = []
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def snapshot(self) -> AccountSnapshot:
        with self._lock:
            return self._snapshot

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer` on every change; returns a function that unsubscribes it."""
        with self._lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def _apply(self, **changes: object) -> bool:
        with self._lock:
            updated = replace(self._snapshot, **changes)  # type: ignore[arg-type]
            if updated == self._snapshot:
                return False
            updated = replace(updated, updated_at=self._clock())
            self._snapshot = updated
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(updated)
            except Exception:  # an observer bug must not break the network path
                log.exception("account-state observer failed")
        return True

    def update_from_headers(self, headers: Mapping[str, str]) -> bool:
        """Read `X-RateLimit-Limit/Remaining/Reset`; True if the state changed.

        Any mapping works (httpx headers, a plain dict in any letter case).
        """
        if not isinstance(headers, httpx.Headers):
            headers = {name.lower(): value for name, value in headers.items()}
        limit = _header_int(headers, "x-ratelimit-limit")
        remaining = _header_int(headers, "x-ratelimit-remaining")
        if limit is None or remaining is None:
            return False
        reset = _header_int(headers, "x-ratelimit-reset")
        return self._apply(rate_limit=RateLimit(limit, max(0, remaining), reset))

    def update_credits(self, credits_remaining: int) -> bool:
        """A render answer's `credits_remaining` (the balance after the reservation)."""
        return self._apply(credits_balance=credits_remaining)

    def update_from_account(
        self,
        *,
        plan: str | None,
        credits_balance: int | None,
        key_mode: KeyMode,
        rate_limit: RateLimit | None,
        concurrency_limit: int | None,
        concurrency_active: int | None,
    ) -> bool:
        """Everything `GET /api/account` says; missing parts keep their previous values."""
        current = self.snapshot
        return self._apply(
            plan=plan if plan is not None else current.plan,
            credits_balance=(
                credits_balance if credits_balance is not None else current.credits_balance
            ),
            key_mode=key_mode if key_mode is not KeyMode.UNKNOWN else current.key_mode,
            rate_limit=rate_limit if rate_limit is not None else current.rate_limit,
            concurrency_limit=(
                concurrency_limit if concurrency_limit is not None else current.concurrency_limit
            ),
            concurrency_active=(
                concurrency_active if concurrency_active is not None else current.concurrency_active
            ),
            from_account_endpoint=True,
        )

    def poll_interval(self, base: float) -> float:
        """The poll interval to use now: `base`, doubled while under 20 % of the window is left."""
        rate = self.snapshot.rate_limit
        if rate is not None and rate.is_low:
            return base * 2
        return base

    def seconds_until_reset(self, now: float | None = None) -> float | None:
        rate = self.snapshot.rate_limit
        if rate is None or rate.reset is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, rate.reset - current)
