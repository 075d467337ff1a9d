"""When a failed call is tried again, and when it must not be (contract §7).

The policy lives in one pure function (`RetryPolicy.decide`) so it can be tested without a
network, and one loop (`Retrier.run`) that sleeps through an injectable `sleep` and announces
every wait so the studio can show a countdown.

The dangerous case is a render submission: it spends money. It is retried only when the server
has proved it honours `Idempotency-Key` (it echoed the key) or when the request provably never
reached the server. After an ambiguous failure (timeout after sending, reset) it is not resent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from app.service.errors import ApiError

Sleep = Callable[[float], Awaitable[None]]


class RequestKind(StrEnum):
    """How safe it is to send a request twice."""

    # GET and DELETE: repeating them changes nothing more.
    SAFE = "safe"
    # Render submissions with an Idempotency-Key: safe only once the server echoed the key.
    SUBMIT = "submit"
    # Template create/update: never re-sent after an ambiguous failure (re-read instead).
    UNSAFE = "unsafe"


class WaitReason(StrEnum):
    RATE_LIMIT = "rate_limit"
    BACKOFF = "backoff"
    SLOT = "slot"


@dataclass(frozen=True)
class WaitNotice:
    """Announced before each sleep: the studio shows "Retrying in N s (try 2 of 5)"."""

    seconds: float
    reason: WaitReason
    next_try: int
    max_tries: int
    error: ApiError


OnWait = Callable[[WaitNotice], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Numbers of §7: d = min(30 s, 1 s·2ⁿ), sleep uniform in [d/2, d], at most 5 tries."""

    max_tries: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    # No retry is started that would end later than this after the first try began.
    total_budget: float = 120.0
    # A 429 asking for a longer wait is handed to the user ("try again at …") instead.
    max_rate_limit_wait: float = 90.0

    def backoff(self, retry_index: int, rng: random.Random) -> float:
        """The jittered delay before retry number `retry_index` (0 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**retry_index))
        return rng.uniform(ceiling / 2, ceiling)

    def decide(
        self,
        error: ApiError,
        *,
        tries_done: int,
        kind: RequestKind,
        idempotency_confirmed: bool,
        rng: random.Random,
        now: float | None = None,
    ) -> tuple[float, WaitReason] | None:
        """How long to wait before the next try, or None when the error must be surfaced."""
        if tries_done >= self.max_tries:
            return None
        if error.is_rate_limit:
            # A 429 means the request was refused before it did anything: resending is safe
            # for every kind of request.
            delay = self.rate_limit_wait(error, tries_done - 1, rng, now=now)
            if delay > self.max_rate_limit_wait:
                return None
            return delay, WaitReason.RATE_LIMIT
        if error.is_network:
            if error.never_reached or kind is RequestKind.SAFE:
                return self.backoff(tries_done - 1, rng), WaitReason.BACKOFF
            if kind is RequestKind.SUBMIT and idempotency_confirmed:
                return self.backoff(tries_done - 1, rng), WaitReason.BACKOFF
            return None
        assert error.status is not None
        if error.status < 500 or error.code == "RENDER_FAILED":
            return None
        # INTERNAL_ERROR, DATABASE_ERROR, unknown 5xx, proxy HTML pages: the request may have
        # been processed, so the same idempotency rule applies as for an ambiguous failure.
        if kind is RequestKind.SAFE:
            return self.backoff(tries_done - 1, rng), WaitReason.BACKOFF
        if kind is RequestKind.SUBMIT and idempotency_confirmed:
            return self.backoff(tries_done - 1, rng), WaitReason.BACKOFF
        return None

    def rate_limit_wait(
        self, error: ApiError, retry_index: int, rng: random.Random, *, now: float | None = None
    ) -> float:
        """Retry-After, else until X-RateLimit-Reset, else the limit text's window, else backoff."""
        if error.retry_after is not None:
            return error.retry_after
        current = time.time() if now is None else now
        if error.reset_at is not None and error.reset_at >= current:
            return max(1.0, error.reset_at - current)
        if error.rate_window is not None:
            return error.rate_window
        return self.backoff(retry_index, rng)


class Retrier:
    """Runs one call under a `RetryPolicy`, sleeping and announcing between tries."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        on_wait: OnWait | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.on_wait = on_wait
        self._rng = rng or random.Random()
        self._clock = clock

    async def run[T](
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        kind: RequestKind,
        idempotency_confirmed: Callable[[], bool] = lambda: False,
    ) -> T:
        """Call `attempt` until it returns, or raise the last `ApiError` once retrying must stop.

        `idempotency_confirmed` is asked after each failure, because the failing response itself
        may carry the server's first echo of the key.
        """
        started = self._clock()
        tries = 0
        while True:
            tries += 1
            try:
                return await attempt()
            except ApiError as error:
                error.attempts = tries
                decision = self.policy.decide(
                    error,
                    tries_done=tries,
                    kind=kind,
                    idempotency_confirmed=idempotency_confirmed(),
                    rng=self._rng,
                )
                if decision is None:
                    raise
                delay, reason = decision
                if self._clock() - started + delay > self.policy.total_budget:
                    raise
                if self.on_wait is not None:
                    self.on_wait(WaitNotice(delay, reason, tries + 1, self.policy.max_tries, error))
                await self._sleep(delay)
