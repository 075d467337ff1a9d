"""The account state follows every rate-limit header, render answer and account read."""

from __future__ import annotations

from app.service.keys import KeyMode
from app.service.limits import AccountSnapshot, AccountState, RateLimit


def headers(limit: int, remaining: int, reset: int = 1746351072) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


def test_headers_update_the_rate_limit_and_notify_observers() -> None:
    state = AccountState(KeyMode.LIVE, clock=lambda: 123.0)
    seen: list[AccountSnapshot] = []
    state.subscribe(seen.append)
    assert state.update_from_headers({k.lower(): v for k, v in headers(120, 117).items()})
    assert state.snapshot.rate_limit == RateLimit(120, 117, 1746351072)
    assert state.snapshot.updated_at == 123.0
    assert len(seen) == 1 and seen[0].rate_limit == RateLimit(120, 117, 1746351072)


def test_unchanged_headers_do_not_notify() -> None:
    state = AccountState()
    seen: list[AccountSnapshot] = []
    state.subscribe(seen.append)
    state.update_from_headers(headers(10, 9))
    assert not state.update_from_headers(headers(10, 9))
    assert len(seen) == 1


def test_responses_without_headers_change_nothing() -> None:
    state = AccountState()
    assert not state.update_from_headers({})
    assert not state.update_from_headers({"X-RateLimit-Limit": "10"})
    assert not state.update_from_headers({"X-RateLimit-Limit": "x", "X-RateLimit-Remaining": "1"})
    assert state.snapshot.rate_limit is None


def test_render_answer_updates_the_balance() -> None:
    state = AccountState()
    state.update_credits(995)
    assert state.snapshot.credits_balance == 995


def test_account_read_fills_everything_and_keeps_unknowns() -> None:
    state = AccountState(KeyMode.TEST)
    state.update_credits(50)
    state.update_from_account(
        plan="pro",
        credits_balance=None,
        key_mode=KeyMode.UNKNOWN,
        rate_limit=RateLimit(120, 118, 5),
        concurrency_limit=10,
        concurrency_active=1,
    )
    snap = state.snapshot
    assert (snap.plan, snap.credits_balance, snap.key_mode) == ("pro", 50, KeyMode.TEST)
    assert (snap.concurrency_limit, snap.concurrency_active) == (10, 1)
    assert snap.from_account_endpoint


def test_poll_interval_doubles_below_twenty_percent() -> None:
    state = AccountState()
    assert state.poll_interval(2.0) == 2.0
    state.update_from_headers(headers(10, 2))
    assert state.poll_interval(2.0) == 2.0
    state.update_from_headers(headers(10, 1))
    assert state.poll_interval(2.0) == 4.0
    state.update_from_headers(headers(120, 23))
    assert state.poll_interval(5.0) == 10.0
    state.update_from_headers(headers(120, 24))
    assert state.poll_interval(5.0) == 5.0


def test_unsubscribe_and_faulty_observers() -> None:
    state = AccountState()
    calls: list[int] = []

    def broken(_: AccountSnapshot) -> None:
        raise RuntimeError("observer bug")

    state.subscribe(broken)
    unsubscribe = state.subscribe(lambda s: calls.append(s.credits_balance or 0))
    state.update_credits(5)  # the broken observer must not stop the update or the others
    unsubscribe()
    state.update_credits(6)
    assert calls == [5]
    assert state.snapshot.credits_balance == 6


def test_seconds_until_reset() -> None:
    state = AccountState()
    assert state.seconds_until_reset(now=0) is None
    state.update_from_headers(headers(10, 0, reset=1000))
    assert state.seconds_until_reset(now=990.0) == 10.0
    assert state.seconds_until_reset(now=2000.0) == 0.0
