"""The §7 retry policy: what is retried, how long it waits, and what is never resent."""

from __future__ import annotations

import asyncio
import random

import pytest

from app.service.errors import ApiError
from app.service.retry import RequestKind, Retrier, RetryPolicy, WaitNotice, WaitReason


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def err(status: int | None, code: str, **kwargs: object) -> ApiError:
    return ApiError(code=code, message=code, status=status, **kwargs)  # type: ignore[arg-type]


def run_failing(
    errors: list[ApiError],
    *,
    kind: RequestKind = RequestKind.SAFE,
    confirmed: bool = False,
    policy: RetryPolicy | None = None,
) -> tuple[str | ApiError, int, FakeTime, list[WaitNotice]]:
    """Run an attempt that raises `errors` in turn and then succeeds."""
    fake = FakeTime()
    notices: list[WaitNotice] = []
    retrier = Retrier(
        policy, sleep=fake.sleep, on_wait=notices.append, rng=random.Random(7), clock=fake.clock
    )
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls <= len(errors):
            raise errors[calls - 1]
        return "ok"

    async def main() -> str | ApiError:
        try:
            return await retrier.run(attempt, kind=kind, idempotency_confirmed=lambda: confirmed)
        except ApiError as error:
            return error

    result = asyncio.run(main())
    return result, calls, fake, notices


def test_rate_limit_waits_retry_after_then_succeeds() -> None:
    result, calls, fake, notices = run_failing([err(429, "RATE_LIMIT_EXCEEDED", retry_after=7.0)])
    assert result == "ok"
    assert calls == 2
    assert fake.sleeps == [7.0]
    assert notices[0].reason is WaitReason.RATE_LIMIT
    assert (notices[0].seconds, notices[0].next_try, notices[0].max_tries) == (7.0, 2, 5)


def test_rate_limit_on_a_submission_is_retried_too() -> None:
    # A 429 means the request was refused before anything happened.
    result, calls, _, _ = run_failing(
        [err(429, "RATE_LIMIT_EXCEEDED", retry_after=1.0)], kind=RequestKind.SUBMIT
    )
    assert result == "ok" and calls == 2


def test_rate_limit_without_retry_after_waits_until_reset() -> None:
    policy = RetryPolicy()
    error = err(429, "RATE_LIMIT_EXCEEDED", reset_at=1000.0)
    wait = policy.rate_limit_wait(error, 0, random.Random(1), now=988.5)
    assert wait == pytest.approx(11.5)


def test_rate_limit_without_any_hint_uses_backoff() -> None:
    policy = RetryPolicy()
    wait = policy.rate_limit_wait(err(429, "RATE_LIMITED"), 2, random.Random(1), now=0)
    assert 2.0 <= wait <= 4.0


def test_rate_limit_asking_too_long_is_handed_to_the_user() -> None:
    long_wait = err(429, "RATE_LIMITED", rate_window=86400.0)
    result, calls, fake, _ = run_failing([long_wait])
    assert result is long_wait and calls == 1 and fake.sleeps == []


def test_server_errors_back_off_with_jitter_and_stop_after_five_tries() -> None:
    errors = [err(500, "INTERNAL_ERROR") for _ in range(10)]
    result, calls, fake, notices = run_failing(errors)
    assert isinstance(result, ApiError) and result.code == "INTERNAL_ERROR"
    assert calls == 5
    assert result.attempts == 5
    assert len(fake.sleeps) == 4
    for n, slept in enumerate(fake.sleeps):
        ceiling = min(30.0, 2.0**n)
        assert ceiling / 2 <= slept <= ceiling
    assert all(n.reason is WaitReason.BACKOFF for n in notices)


def test_backoff_is_capped_at_thirty_seconds() -> None:
    policy = RetryPolicy()
    rng = random.Random(3)
    delays = [policy.backoff(10, rng) for _ in range(200)]
    assert all(15.0 <= d <= 30.0 for d in delays)
    assert max(delays) - min(delays) > 5  # jitter actually spreads the delays


def test_total_time_budget_stops_retrying() -> None:
    policy = RetryPolicy(max_tries=50, total_budget=10.0)
    errors = [err(503, "HTTP_503") for _ in range(50)]
    result, calls, fake, _ = run_failing(errors, policy=policy)
    assert isinstance(result, ApiError)
    assert sum(fake.sleeps) <= 10.0
    assert calls < 50


def test_html_gateway_errors_are_retried_for_reads() -> None:
    result, calls, _, _ = run_failing([err(502, "HTTP_502"), err(504, "HTTP_504")])
    assert result == "ok" and calls == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "SCHEMA_VALIDATION_ERROR"),
        (400, "INVALID_JSON"),
        (401, "UNAUTHORIZED"),
        (402, "INSUFFICIENT_CREDITS"),
        (403, "FORBIDDEN"),
        (404, "NOT_FOUND"),
        (409, "INVALID_STATE"),
        (409, "IDEMPOTENCY_CONFLICT"),
        (422, "VALIDATION_ERROR"),
        (500, "RENDER_FAILED"),
        (429, "CONCURRENCY_LIMIT_EXCEEDED"),
    ],
)
def test_client_errors_and_render_failures_are_never_retried(status: int, code: str) -> None:
    result, calls, fake, _ = run_failing([err(status, code)])
    assert isinstance(result, ApiError) and result.code == code
    assert calls == 1 and fake.sleeps == []


def test_ambiguous_submission_is_not_retried_before_the_echo() -> None:
    reset = err(None, "NETWORK_CONNECTION_LOST")
    result, calls, _, _ = run_failing([reset], kind=RequestKind.SUBMIT, confirmed=False)
    assert result is reset and calls == 1


def test_ambiguous_submission_is_retried_after_the_echo() -> None:
    reset = err(None, "NETWORK_TIMEOUT")
    result, calls, _, _ = run_failing([reset], kind=RequestKind.SUBMIT, confirmed=True)
    assert result == "ok" and calls == 2


def test_server_error_on_a_submission_follows_the_same_rule() -> None:
    before, calls_before, _, _ = run_failing([err(500, "INTERNAL_ERROR")], kind=RequestKind.SUBMIT)
    after, calls_after, _, _ = run_failing(
        [err(500, "INTERNAL_ERROR")], kind=RequestKind.SUBMIT, confirmed=True
    )
    assert isinstance(before, ApiError) and calls_before == 1
    assert after == "ok" and calls_after == 2


def test_submission_that_never_reached_the_server_is_retried() -> None:
    refused = err(None, "NETWORK_CONNECT_FAILED", never_reached=True)
    result, calls, _, _ = run_failing([refused], kind=RequestKind.SUBMIT, confirmed=False)
    assert result == "ok" and calls == 2


def test_template_writes_are_not_resent_after_an_ambiguous_failure() -> None:
    result, calls, _, _ = run_failing([err(None, "NETWORK_TIMEOUT")], kind=RequestKind.UNSAFE)
    assert isinstance(result, ApiError) and calls == 1
    result, calls, _, _ = run_failing([err(500, "INTERNAL_ERROR")], kind=RequestKind.UNSAFE)
    assert isinstance(result, ApiError) and calls == 1
    refused = err(None, "NETWORK_CONNECT_FAILED", never_reached=True)
    result, calls, _, _ = run_failing([refused], kind=RequestKind.UNSAFE)
    assert result == "ok" and calls == 2


def test_reads_are_retried_after_a_reset() -> None:
    result, calls, _, _ = run_failing([err(None, "NETWORK_CONNECTION_LOST")] * 2)
    assert result == "ok" and calls == 3


def test_echo_seen_on_the_failing_response_counts() -> None:
    """The confirmation is asked after the failure: the failing answer may carry the first echo."""
    fake = FakeTime()
    retrier = Retrier(sleep=fake.sleep, clock=fake.clock, rng=random.Random(1))
    confirmed = False
    calls = 0

    async def attempt() -> str:
        nonlocal confirmed, calls
        calls += 1
        if calls == 1:
            confirmed = True  # the 500 answer echoed the key
            raise err(500, "INTERNAL_ERROR")
        return "ok"

    async def main() -> str:
        return await retrier.run(
            attempt, kind=RequestKind.SUBMIT, idempotency_confirmed=lambda: confirmed
        )

    assert asyncio.run(main()) == "ok"
