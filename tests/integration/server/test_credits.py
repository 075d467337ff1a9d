"""Credit arithmetic against the ledger: reserve, refund on fail and cancel, sandbox, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.server.conftest import Running, tiny_script


def kinds(service: Running, account_id: str) -> list[tuple[str, int]]:
    return [(e.kind, e.amount) for e in service.store.ledger(account_id)]


def test_reservation_at_submission_and_refund_on_cancel(held: Running) -> None:
    account = held.account(credits=100)
    accepted = held.submit(account.live_key, tiny_script(4.2))
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["estimated_credits"] == 5
    assert body["credits_remaining"] == 95
    assert body["status"] == "queued"
    assert kinds(held, account.account_id) == [("grant", 100), ("reserve", -5)]
    me = held.request("GET", "/api/account", account.live_key).json()
    assert me["credits_balance"] == 95
    assert me["concurrency"]["active"] == 1
    held.request("DELETE", f"/api/jobs/{body['job_id']}", account.live_key)
    assert kinds(held, account.account_id) == [("grant", 100), ("reserve", -5), ("refund", 5)]
    assert held.store.balance(account.account_id) == 100


def test_failed_render_refunds_everything_and_names_the_relative_path(
    start_service: Callable[..., Running],
) -> None:
    service = start_service()
    account = service.account(credits=10)
    script = tiny_script(2)
    script["scenes"][0]["elements"].append({"type": "image", "src": "media/logo.png"})
    job_id = service.submit(account.live_key, script).json()["job_id"]
    job = service.wait_status(account.live_key, job_id, ("failed",))
    assert job["error"]["code"] == "RENDER_FAILED"
    assert "scenes.0.elements.1.src" in job["error"]["message"]
    assert "media/logo.png" in job["error"]["message"]
    assert job["credits_used"] == 0
    assert job["completed_at"] is not None
    assert job["output_url"] is None and job["duration_seconds"] is None
    assert kinds(service, account.account_id) == [("grant", 10), ("reserve", -2), ("refund", 2)]


def test_sandbox_key_never_touches_the_balance(held: Running) -> None:
    account = held.account(credits=0)
    accepted = held.submit(account.test_key, tiny_script(30))
    assert accepted.status_code == 202
    assert accepted.json() == {
        "job_id": accepted.json()["job_id"],
        "status": "queued",
        "estimated_credits": 30,
        "credits_remaining": 0,
    }
    me = held.request("GET", "/api/account", account.test_key).json()
    assert me["key_mode"] == "test"
    held.request("DELETE", f"/api/jobs/{accepted.json()['job_id']}", account.test_key)
    assert kinds(held, account.account_id) == []
    job = held.job(account.test_key, accepted.json()["job_id"])
    assert job["credits_used"] == 0


def test_fifty_concurrent_submissions_from_five_accounts_never_overdraw(held: Running) -> None:
    # 15 credits each, 10 submissions of 2 credits: exactly 7 fit, 3 must get 402.
    accounts = [
        held.account("enterprise", 15, rate_limit=1000, concurrency_limit=100) for _ in range(5)
    ]

    def submit(index: int) -> tuple[str, int, dict[str, object]]:
        account = accounts[index % 5]
        with httpx.Client(timeout=30) as client:
            response = client.post(
                held.url + "/api/render",
                headers={"x-api-key": account.live_key},
                json=tiny_script(2),
            )
        return account.account_id, response.status_code, response.json()

    start = threading.Barrier(1)
    start.wait()
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(submit, range(50)))
    for account in accounts:
        mine = [r for r in results if r[0] == account.account_id]
        codes = sorted(code for _, code, _ in mine)
        assert codes == [202] * 7 + [402] * 3, codes
        for _, code, body in mine:
            if code == 402:
                assert body["error"]["required"] == 2  # type: ignore[index]
                assert body["error"]["balance"] in (0, 1)  # type: ignore[index]
        assert held.store.balance(account.account_id) == 1
        ledger = held.store.ledger(account.account_id)
        assert sum(e.amount for e in ledger) == 1
        assert sorted(e.amount for e in ledger if e.kind == "reserve") == [-2] * 7
        jobs = held.request("GET", "/api/jobs?limit=100", account.live_key).json()["jobs"]
        assert len(jobs) == 7
